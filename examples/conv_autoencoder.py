"""The lectures' "How do I start?" program: the Keras blog's convolutional autoencoder on MNIST
(https://blog.keras.io/building-autoencoders-in-keras.html), unchanged but for its imports,
which now point at deepgrad.keras.

    python examples/conv_autoencoder.py      # 50 epochs on the 60000 MNIST images

For a short run set DEEPGRAD_EXAMPLE_EPOCHS and DEEPGRAD_EXAMPLE_SAMPLES (see the marked
block below, which is not part of the lecture's program).
"""
from deepgrad.keras.layers import Input, Dense, Conv2D, MaxPooling2D, UpSampling2D
from deepgrad.keras.models import Model
from deepgrad.keras import backend as K

input_img = Input(shape=(28, 28, 1))  # adapt this if using `channels_first` image data format

x = Conv2D(16, (3, 3), activation='relu', padding='same')(input_img)
x = MaxPooling2D((2, 2), padding='same')(x)
x = Conv2D(8, (3, 3), activation='relu', padding='same')(x)
x = MaxPooling2D((2, 2), padding='same')(x)
x = Conv2D(8, (3, 3), activation='relu', padding='same')(x)
encoded = MaxPooling2D((2, 2), padding='same')(x)

# at this point the representation is (4, 4, 8) i.e. 128-dimensional

x = Conv2D(8, (3, 3), activation='relu', padding='same')(encoded)
x = UpSampling2D((2, 2))(x)
x = Conv2D(8, (3, 3), activation='relu', padding='same')(x)
x = UpSampling2D((2, 2))(x)
x = Conv2D(16, (3, 3), activation='relu')(x)
x = UpSampling2D((2, 2))(x)
decoded = Conv2D(1, (3, 3), activation='sigmoid', padding='same')(x)

autoencoder = Model(input_img, decoded)
autoencoder.compile(optimizer='adadelta', loss='binary_crossentropy')

from deepgrad.keras.datasets import mnist
import numpy as np

(x_train, _), (x_test, _) = mnist.load_data()

x_train = x_train.astype('float32') / 255.
x_test = x_test.astype('float32') / 255.
x_train = np.reshape(x_train, (len(x_train), 28, 28, 1))  # adapt this if using `channels_first` image data format
x_test = np.reshape(x_test, (len(x_test), 28, 28, 1))  # adapt this if using `channels_first` image data format

# --- not in the lecture: a short run when DEEPGRAD_EXAMPLE_EPOCHS / _SAMPLES are set ------------
import os
if os.environ.get("DEEPGRAD_EXAMPLE_SAMPLES"):
    _n = int(os.environ["DEEPGRAD_EXAMPLE_SAMPLES"])
    x_train, x_test = x_train[:_n], x_test[:max(_n // 4, 1)]
if os.environ.get("DEEPGRAD_EXAMPLE_EPOCHS"):
    _fit, _epochs = autoencoder.fit, int(os.environ["DEEPGRAD_EXAMPLE_EPOCHS"])
    autoencoder.fit = lambda *args, **kwargs: _fit(*args, **{**kwargs, "epochs": _epochs})
# ------------------------------------------------------------------------------------------------

autoencoder.fit(x_train, x_train,
                epochs=50,
                batch_size=128,
                shuffle=True,
                validation_data=(x_test, x_test))
