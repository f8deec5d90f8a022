"""The playground's settings, network, data and session logic, without a server."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest

from deepgrad.playground.data import CsvError, make_data, parse_csv
from deepgrad.playground.network import GRID, PlaygroundNet, feature_matrix, grid_points, layer_spec, quantize
from deepgrad.playground.session import Session, SessionLimitError, SessionManager, StepBudget
from deepgrad.playground.state import (
    DEFAULTS, LEARNING_RATES, PlaygroundState, StateError, apply_changes, parse_query,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- state -----------------------------------------------------------------------
def test_defaults_are_the_tensorflow_playgrounds():
    s = DEFAULTS
    assert (s.dataset, s.networkShape, s.activation) == ("circle", (4, 2), "tanh")
    assert (s.learningRate, s.batchSize) == (0.03, 10)
    assert (s.noise, s.percTrainData, s.regularization, s.problem) == (0, 50, "none", "classification")
    assert s.features == ["x", "y"]


def test_query_round_trip_reproduces_every_setting():
    state = apply_changes(DEFAULTS, {
        "dataset": "spiral", "networkShape": [8, 8, 3], "learningRate": "0.00001", "sinX": True,
        "regularization": "L2", "regularizationRate": 0.3, "optimizer": "adam", "dropout": 0.2,
        "batchNorm": True, "loss": "softmax", "noise": 35, "percTrainData": 70, "seed": 12345,
        "showTestData": True, "discretize": True, "problem": "classification",
    })
    query = state.to_query()
    assert "learningRate=0.00001" in query and "networkShape=8,8,3" in query and "regularization=L2" in query
    again, errors = parse_query(query)
    assert errors == [] and again == state
    assert parse_query(DEFAULTS.to_query()) == (DEFAULTS, [])


def test_every_learning_rate_in_the_list_round_trips():
    for lr in LEARNING_RATES:
        state = apply_changes(DEFAULTS, {"learningRate": lr})
        assert parse_query(state.to_query())[0].learningRate == lr


@pytest.mark.parametrize("changes, field, words", [
    ({"noise": 51}, "noise", "from 0 to 50"),
    ({"noise": "ten"}, "noise", "whole number"),
    ({"percTrainData": 95}, "percTrainData", "from 10 to 90"),
    ({"batchSize": 0}, "batchSize", "from 1 to 30"),
    ({"batchSize": 2.5}, "batchSize", "whole number"),
    ({"batchSize": True}, "batchSize", "whole number"),
    ({"learningRate": 0.02}, "learningRate", "one of the learning rates"),
    ({"learningRate": "nan"}, "learningRate", "one of the learning rates"),
    ({"regularizationRate": 5}, "regularizationRate", "regularization rates"),
    ({"activation": "gelu"}, "activation", "relu, tanh, sigmoid, linear"),
    ({"dataset": "../../etc/passwd"}, "dataset", "one of circle"),
    ({"networkShape": [4, 9]}, "networkShape", "hidden layer 2 must have 1 to 8"),
    ({"networkShape": "1,1,1,1,1,1,1"}, "networkShape", "at most 6"),
    ({"networkShape": "4,x"}, "networkShape", "hidden layer 2"),
    ({"x": "maybe"}, "x", "true or false"),
    ({"optimizer": "lbfgs"}, "optimizer", "sgd, momentum, adam, rmsprop"),
    ({"dropout": 0.9}, "dropout", "dropout rates"),
    ({"colour": "red"}, "colour", "unknown setting"),
    ({"x": False, "y": False}, "features", "at least one input feature"),
    ({"batchNorm": True, "batchSize": 1}, "batchNorm", "batch size of at least 2"),
])
def test_bad_settings_are_refused_with_a_message_naming_the_field(changes, field, words):
    with pytest.raises(StateError) as info:
        apply_changes(DEFAULTS, changes)
    assert info.value.field == field
    assert words in info.value.message
    assert info.value.to_json() == {"field": field, "message": info.value.message}


def test_apply_changes_is_all_or_nothing_and_accepts_page_spellings():
    with pytest.raises(StateError):
        apply_changes(DEFAULTS, {"dataset": "xor", "noise": 99})
    state = apply_changes(DEFAULTS, {"regularization": "l1", "networkShape": "", "noise": "15", "x": "false"})
    assert (state.regularization, state.networkShape, state.noise, state.x) == ("L1", (), 15, False)
    with pytest.raises(StateError, match="must be an object"):
        apply_changes(DEFAULTS, ["noise", 5])


def test_parse_query_keeps_good_keys_and_reports_bad_ones():
    state, errors = parse_query("?dataset=xor&noise=77&bogus=1&networkShape=3&session=abc")
    assert state.dataset == "xor" and state.networkShape == (3,) and state.noise == DEFAULTS.noise
    assert [e.field for e in errors] == ["noise", "bogus"]
    assert "ignored" in errors[0].message and "using 0" in errors[0].message
    state, errors = parse_query("x=false&y=false")
    assert state == DEFAULTS and errors[0].field == "features"
    state, errors = parse_query("a=" + "1" * 5000)
    assert state == DEFAULTS and "4096" in errors[0].message


def test_every_field_has_a_parser_and_every_feature_a_function():
    from deepgrad.playground.network import _FEATURE_FUNCS
    from deepgrad.playground.state import FEATURES, FIELD_NAMES, PARSERS

    assert set(PARSERS) == set(FIELD_NAMES)
    assert set(_FEATURE_FUNCS) == set(FEATURES)


def test_state_json_is_plain():
    data = DEFAULTS.to_json()
    assert json.loads(json.dumps(data)) == data and data["networkShape"] == [4, 2]
    assert PlaygroundState(**{**data, "networkShape": (4, 2)}) == DEFAULTS


# --- network ------------------------------------------------------------------------
def test_layer_spec_and_the_playgrounds_initialization():
    state = apply_changes(DEFAULTS, {"networkShape": [3, 2], "batchNorm": True, "dropout": 0.1, "activation": "relu"})
    assert layer_spec(state) == [("Linear", (2, 3)), ("BatchNorm1d", (3,)), ("ReLU", ()), ("Dropout", (0.1,)),
                                 ("Linear", (3, 2)), ("BatchNorm1d", (2,)), ("ReLU", ()), ("Dropout", (0.1,)),
                                 ("Linear", (2, 1)), ("Tanh", ())]
    assert layer_spec(apply_changes(DEFAULTS, {"loss": "softmax", "networkShape": ""}))[-1] == ("Linear", (2, 2))
    regression = apply_changes(DEFAULTS, {"problem": "regression", "activation": "linear"})
    assert layer_spec(regression)[-1] == ("Linear", (2, 1))
    net = PlaygroundNet(state)
    for layer in net.linears:
        w = np.asarray(layer.weight.array)
        assert np.all(np.abs(w) <= 0.5) and np.all(np.asarray(layer.bias.array) == np.float32(0.1))
    again = PlaygroundNet(state)  # same seed, same weights
    assert all(np.array_equal(a.weight.array, b.weight.array) for a, b in zip(net.linears, again.linears, strict=True))


def test_features_and_grid_orientation():
    pts = np.array([[1.0, 2.0], [-0.5, 3.0]], dtype=np.float32)
    f = feature_matrix(pts, ["x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY"])
    np.testing.assert_allclose(f[0], [1, 2, 1, 4, 2, math.sin(1), math.sin(2)], rtol=1e-6)
    assert f.dtype == np.float32
    g = grid_points()
    assert g.shape == (GRID * GRID, 2)
    np.testing.assert_allclose(g[0], [-6, 6])            # top-left pixel
    np.testing.assert_allclose(g[GRID - 1], [6, 6])      # top-right
    np.testing.assert_allclose(g[-1], [6, -6])           # bottom-right
    raw = base64.b64decode(quantize(np.array([-1, 0, 1, 5, np.nan], dtype=np.float32)))
    assert list(raw) == [0, 128, 255, 255, 128]


def test_training_lowers_the_loss_and_maps_cover_every_neuron():
    session = Session("s", apply_changes(DEFAULTS, {"optimizer": "adam"}), steps_per_second=1e9)
    session.outgoing()
    first = session.snapshot()
    session.playing = True
    assert session.train(30 * 25, seconds=60) == 30 * 25
    update = session.snapshot()
    assert update["epoch"] == 30 and update["trainLoss"] < first["trainLoss"] * 0.5
    assert [len(m) for m in update["maps"]] == [4, 2, 1]
    assert len(base64.b64decode(update["heat"])) == GRID * GRID
    assert len(base64.b64decode(update["maps"][0][0])) == 25 * 25
    assert update["heat"] != first["heat"]
    assert [len(w) for w in update["weights"]] == [4, 2, 1] and len(update["weights"][0][0]) == 2
    assert len(update["diagnostics"]["gradNorm"]) == 3 and all(g > 0 for g in update["diagnostics"]["gradNorm"])
    assert update["diagnostics"]["deadRelu"] is None
    assert update["history"][0][0] == 0 and update["history"][-1][0] == update["epoch"]


def test_step_is_one_epoch_and_reset_restores_the_start():
    session = Session("s", DEFAULTS, steps_per_second=1e9)
    start = session.snapshot()
    session.request_step()
    assert session.wants_training()
    session.train(10_000, seconds=10)
    assert session.epoch == 1 and not session.wants_training()
    assert session.steps == math.ceil(250 / 10)
    session.reset()
    assert session.epoch == 0 and session.snapshot()["weights"] == start["weights"]


def test_l1_regularization_zeroes_weights_instead_of_flipping_them():
    state = apply_changes(DEFAULTS, {"regularization": "L1", "regularizationRate": 10, "learningRate": 0.1})
    net = PlaygroundNet(state)
    x = feature_matrix(np.zeros((4, 2), np.float32), state.features)
    net.train_step(x, np.ones(4, np.float32))
    w = np.asarray(net.linears[0].weight.array)
    assert np.all(w == 0)  # |w| <= 0.5 < lr * rate = 1: every weight crosses zero and is clipped


def test_relu_diagnostics_and_softmax_output():
    session = Session("s", apply_changes(DEFAULTS, {"activation": "relu", "loss": "softmax"}))
    update = session.snapshot()
    assert len(update["diagnostics"]["deadRelu"]) == 2
    assert all(0 <= f <= 1 for f in update["diagnostics"]["deadRelu"])
    assert len(update["maps"][-1]) == 2  # two output units
    session.net.set_bias(0, 0, -100.0)   # a neuron that never fires
    session.net.linears[0].weight.array[0] = 0
    assert session.net.dead_relu_fraction(session.train_x)[0] >= 0.25


def test_divergence_pauses_with_a_message_and_json_stays_valid():
    state = apply_changes(DEFAULTS, {"problem": "regression", "activation": "linear", "learningRate": 10,
                                     "networkShape": [8, 8, 8]})
    session = Session("s", state, steps_per_second=1e9)
    session.playing = True
    for _ in range(20):
        session.train(10_000, seconds=10)
        if not session.playing:
            break
    assert not session.playing
    messages = session.outgoing()
    assert messages[0]["type"] == "error" and "diverged" in messages[0]["message"]
    text = json.dumps(messages, allow_nan=False)  # NaN weights and losses become null
    assert "null" in text


def test_set_param_and_focus_validate_indices_and_values():
    session = Session("s", DEFAULTS)
    session.set_param("weight", 0, 1, 0, 2.5)
    assert session.snapshot()["weights"][0][1][0] == 2.5
    session.set_param("bias", 2, 0, None, -0.75)
    assert session.snapshot()["biases"][2][0] == -0.75
    for args, field in [((3, 0, 0, 1.0), "layer"), ((0, 4, 0, 1.0), "node"), ((0, 0, 2, 1.0), "source"),
                        ((0, 0, 0, float("nan")), "value"), ((0, 0, 0, 1e6), "value"), ((0, 0, 0, "1"), "value"),
                        ((True, 0, 0, 1.0), "layer")]:
        with pytest.raises(StateError) as info:
            session.set_param("weight", *args)
        assert info.value.field == field
    session.set_focus([1, 3])
    update = session.snapshot()
    assert update["focus"] == [1, 3] and len(base64.b64decode(update["focusMap"])) == GRID * GRID
    for bad in ([1, 4], [5, 0], "x", [1], [0, True]):
        with pytest.raises(StateError):
            session.set_focus(bad)


def test_settings_changes_rebuild_only_what_they_must():
    session = Session("s", DEFAULTS, steps_per_second=1e9)
    session.request_step()
    session.train(10_000, seconds=10)
    session.apply({"learningRate": 0.1, "optimizer": "adam"})       # live: keeps the epoch
    assert session.epoch == 1 and session.net.optimizer.param_groups[0]["lr"] == 0.1
    session.apply({"networkShape": [5]})                            # new network
    assert session.epoch == 0 and session.layer_sizes() == [2, 5, 1]
    before = session.points[1].copy()
    session.apply({"noise": 30})                                    # new data: noisy labels
    assert not np.array_equal(before, session.points[1])
    with pytest.raises(StateError, match="no CSV"):
        session.apply({"dataset": "csv"})
    seed = session.state.seed
    session.regenerate()
    assert session.state.seed != seed


def test_budget_and_manager_with_a_fake_clock():
    clock = FakeClock()
    budget = StepBudget(100, clock)
    assert budget.available() == 25          # a quarter second of burst
    budget.spend(25)
    assert budget.available() == 0 and budget.wait_time() == pytest.approx(0.01)
    clock.now += 0.1
    assert budget.available() == 10
    clock.now += 100
    assert budget.available() == 25          # never more than the burst

    manager = SessionManager(max_sessions=2, idle_timeout=60, clock=clock)
    a, b = manager.create(), manager.create()
    with pytest.raises(SessionLimitError, match="limit"):
        manager.create()
    clock.now += 30
    a.touch()
    clock.now += 40                           # b idle for 70 s, a for 40 s
    assert manager.get(b.id) is None and manager.get(a.id) is a
    assert "minutes without activity" in b.closed
    manager.create()                          # room again


# --- data -----------------------------------------------------------------------------
def test_csv_is_parsed_strictly():
    rows = "\n".join(f"{x:.2f},{-x:.2f},{1 if x > 0 else 0}" for x in np.linspace(-5, 5, 20))
    data = parse_csv(("x,y,label\n" + rows + "\n\n").encode())
    assert data.kind == "classification" and len(data.points) == 20
    assert set(np.unique(data.labels)) == {-1.0, 1.0} and data.points.dtype == np.float32
    reg = parse_csv("\n".join(f"{x},{x},{x / 10}" for x in range(-5, 6)))
    assert reg.kind == "regression" and reg.usable_for("regression") and not reg.usable_for("classification")
    bad = [
        (rows + "\n1,2", "line 21: expected 3"),
        (rows + "\n1,2,abc", "'abc' is not a finite number"),
        (rows + "\n1,inf,1", "'inf' is not a finite number"),
        (rows + "\n7,0,1", "outside the playground's view"),
        (rows + "\n1,1,3", "outside [-1, 1]"),
        ("1,1,1\n2,2,-1", "at least 10"),
        ("a;b;c\n" + rows, "line 1: expected 3"),
        (b"\xff\xfe" + rows.encode(), "not UTF-8"),
    ]
    for text, words in bad:
        with pytest.raises(CsvError, match=words.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
            parse_csv(text)
    with pytest.raises(CsvError, match="at most 50 are accepted"):
        parse_csv(rows, max_bytes=50)
    with pytest.raises(CsvError, match="more than 5 points"):
        parse_csv(rows, max_rows=5)


def test_csv_data_is_split_by_the_ratio():
    data = parse_csv("\n".join(f"{x / 10},{x / 20},{1 if x % 2 else -1}" for x in range(40)))
    state = apply_changes(DEFAULTS, {"percTrainData": 30})
    xtr, ytr, xte, yte = make_data(replace_dataset(state), data)
    assert len(xtr) == 12 and len(xte) == 28
    with pytest.raises(CsvError):
        make_data(replace_dataset(state), None)
    session = Session("s", DEFAULTS)
    session.load_csv(data)
    assert session.state.dataset == "csv" and len(session.points[0]) == 20


def replace_dataset(state: PlaygroundState) -> PlaygroundState:
    from dataclasses import replace

    return replace(state, dataset="csv")
