"""The ``deepgrad`` command (also ``python -m deepgrad``).

Subcommands:
    deepgrad train RECIPE     train a recipe into a run directory (runs/RECIPE by default)
    deepgrad evaluate RUN_DIR reload a run's checkpoint and evaluate it on the test data
    deepgrad recipes          list the recipes, one line each
    deepgrad playground       serve the interactive playground in the browser
    deepgrad info             the version, backend, NumPy and its BLAS, Python, platform, CPUs

Each subcommand is a function ``_cmd_<name>(args) -> int`` registered in
``build_parser``. Heavy modules are imported inside the handlers, so
``deepgrad --help`` and ``deepgrad info`` stay quick.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence


def _cmd_info(args: argparse.Namespace) -> int:
    from deepgrad.info import collect, format_info

    info = collect()
    if args.json:
        import json

        print(json.dumps(info, indent=2))
    else:
        print(format_info(info))
    return 0


def _cmd_recipes(args: argparse.Namespace) -> int:
    from deepgrad.recipes import DEFAULT_RECIPE, list_recipes

    recipes = list_recipes()
    width = max(len(name) for name, _ in recipes)
    for name, description in recipes:
        mark = "  (default)" if name == DEFAULT_RECIPE else ""
        print(f"{name:<{width}}  {description}{mark}")
    print(f"\ntrain one with: deepgrad train {DEFAULT_RECIPE}   (options: deepgrad train --help)")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from deepgrad.recipes import train

    if args.threads is not None:
        from deepgrad import set_num_threads

        set_num_threads(args.threads)
    try:
        train(args.recipe, out=args.out, resume=args.resume, epochs=args.epochs,
              batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer, seed=args.seed,
              data=args.data, limit=args.limit)
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError, FloatingPointError, ImportError) as exc:
        print(f"deepgrad train: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from deepgrad.recipes import evaluate

    try:
        evaluate(args.run_dir, data=args.data)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"deepgrad evaluate: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_playground(args: argparse.Namespace) -> int:
    try:
        from deepgrad.playground.server import main as serve
    except ImportError as exc:
        print(f"deepgrad playground is not available in this installation ({exc})", file=sys.stderr)
        return 1
    return int(serve(args.host, args.port, args.open) or 0)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _add_train(sub: Any) -> None:
    train = sub.add_parser(
        "train", help="train a recipe (deepgrad recipes lists them)",
        description="Train a recipe into a run directory: config.json, metrics.csv/.json, "
                    "curves.png, samples.png, model.weights.safetensors and the training "
                    "checkpoint backup/training_state.safetensors. Options override the "
                    "recipe's defaults.",
    )
    train.add_argument("recipe", metavar="RECIPE", help="the recipe's name, e.g. spiral or lenet5")
    train.add_argument("--epochs", type=_positive_int, help="passes over the training data")
    train.add_argument("--batch-size", type=_positive_int, help="samples per gradient step")
    train.add_argument("--lr", type=_positive_float, help="learning rate")
    train.add_argument("--optimizer", help="adam, sgd, rmsprop, adadelta, adagrad, adamw, nadam, adamax or lion")
    train.add_argument("--seed", type=int, help="seed for the initialization, dropout and shuffling")
    train.add_argument("--out", metavar="DIR", help="run directory (default: runs/RECIPE)")
    train.add_argument("--data", metavar="DIR",
                       help="data root holding mnist/ (default: $DEEPGRAD_DATA or ~/.cache/deepgrad)")
    train.add_argument("--limit", type=_positive_int, metavar="N",
                       help="use only the first N training and test samples (a quick check)")
    train.add_argument("--threads", type=_positive_int, metavar="N",
                       help="BLAS threads for the matrix products (default: every core; "
                            "1 is often faster on a machine busy with other jobs)")
    train.add_argument("--resume", action="store_true",
                       help="continue the interrupted run in --out from its last checkpoint")
    train.set_defaults(handler=_cmd_train)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per subcommand."""
    from deepgrad import __version__

    parser = argparse.ArgumentParser(
        prog="deepgrad",
        description="deepgrad: a deep learning system you can read end to end, built on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"deepgrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser(
        "info", help="print the version, backend, NumPy and its BLAS, Python and platform",
        description="Print what deepgrad runs on (useful in a bug report).",
    )
    info.add_argument("--json", action="store_true", help="print the fields as JSON")
    info.set_defaults(handler=_cmd_info)

    _add_train(sub)
    evaluate = sub.add_parser(
        "evaluate", help="evaluate a trained run on its test data",
        description="Rebuild a run's model from its config.json and model.weights.safetensors "
                    "and evaluate it on the recipe's test data.",
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a directory made by deepgrad train")
    evaluate.add_argument("--data", metavar="DIR", help="data root (default: the one the run used)")
    evaluate.set_defaults(handler=_cmd_evaluate)

    recipes = sub.add_parser("recipes", help="list the recipes, one line each",
                             description="List the recipes deepgrad train knows.")
    recipes.set_defaults(handler=_cmd_recipes)

    playground = sub.add_parser(
        "playground", help="serve the interactive playground in the browser",
        description="Serve the deepgrad playground (train small networks on 2-D data in the browser).",
    )
    playground.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    playground.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    playground.add_argument("--open", action="store_true", help="open the page in the default browser")
    playground.set_defaults(handler=_cmd_playground)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepgrad`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
