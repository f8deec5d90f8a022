"""``deepgrad.keras.callbacks``: Keras's callbacks, the tqdm progress bar, and the backups
that let an interrupted ``fit`` resume exactly."""

from deepgrad.keras.callbacks.base import Callback, CallbackList, History, LambdaCallback
from deepgrad.keras.callbacks.backup import BackupAndRestore, ModelCheckpoint
from deepgrad.keras.callbacks.monitor import (
    CSVLogger, EarlyStopping, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN,
)
from deepgrad.keras.callbacks.progress import ProgbarLogger
from deepgrad.keras.models.trainer import TrainingInterrupted

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "BackupAndRestore",
           "ModelCheckpoint", "CSVLogger", "EarlyStopping", "LearningRateScheduler",
           "ReduceLROnPlateau", "TerminateOnNaN", "ProgbarLogger", "TrainingInterrupted"]
