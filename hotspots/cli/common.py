"""What every command shares: logging to stderr, library warnings as log lines, ``--wait``."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from typing import TextIO, TypeVar

import click

__all__ = [
    "SCHEDULER_ENV",
    "WARNINGS_LOGGER",
    "check_engine",
    "denominator_value",
    "engine_options",
    "layer_options",
    "overlay_values",
    "setup_logging",
    "wait_option",
]

#: Logger of Python warnings raised by hotspots and its libraries (one line each).
WARNINGS_LOGGER = "hotspots.warnings"

#: The ``--wait`` option of every command that writes a folder.
wait_option = click.option(
    "--wait",
    is_flag=True,
    help="If another run is writing the same output folder, wait for it to finish "
    "(then the folder exists: add --overwrite to replace it) instead of failing at once.",
)


F = TypeVar("F", bound=Callable[..., object])


def layer_options(command: F) -> F:
    """Add ``--areas-layer`` and ``--streets-layer`` (the layer to read of a multi-layer file)."""
    command = click.option(
        "--streets-layer", help="Layer of --streets to read, when the file holds several."
    )(command)
    return click.option(
        "--areas-layer", help="Layer of --areas to read, when the file holds several."
    )(command)


def engine_options(engine_help: str) -> Callable[[F], F]:
    """Add ``--engine local|dask``, ``--scheduler`` and ``--workers`` (see :func:`check_engine`).

    Parameters
    ----------
    engine_help
        What ``--engine`` chooses between, for this command's help.
    """

    def add(command: F) -> F:
        command = click.option(
            "--workers",
            type=click.IntRange(min=1),
            help="Workers of the local Dask cluster, one thread each [default: CPU count].",
        )(command)
        command = click.option(
            "--scheduler",
            envvar=SCHEDULER_ENV,
            show_envvar=True,
            help="Address of an existing Dask scheduler, e.g. tcp://host:8786 "
            "(default: start a local cluster).",
        )(command)
        return click.option(
            "--engine",
            type=click.Choice(["local", "dask"]),
            default="local",
            show_default=True,
            help=engine_help,
        )(command)

    return add


def overlay_values(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """Parse ``--overlay NAME=PATH`` values into (name, source) pairs; names distinct."""
    from hotspots.runfolder import parse_overlay

    pairs = []
    for value in values:
        try:
            pairs.append(parse_overlay(value))
        except ValueError as err:
            raise click.BadParameter(str(err), ctx=ctx, param=param) from None
    names = [n for n, _ in pairs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        msg = f"each --overlay needs its own name; given more than once: {', '.join(twice)}"
        raise click.BadParameter(msg, ctx=ctx, param=param)
    return tuple(pairs)


def denominator_value(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check ``--denominator NAME=CSV`` before the run: the form, and that the CSV reads."""
    if not value:
        return value
    from hotspots.analysis.rates import read_denominator, split_denominator
    from hotspots.errors import InputDataError

    try:
        name, path = split_denominator(value)
        read_denominator(path, name=name)
    except (InputDataError, OSError) as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None
    return value


def setup_logging(
    quiet: bool, *, filters: tuple[Callable[[logging.LogRecord], bool], ...] = ()
) -> None:
    """Log to stderr, one line per message; Python warnings become one log line each.

    Parameters
    ----------
    quiet
        Print nothing but errors: INFO messages and warnings are silenced.
    filters
        Extra filters of the stderr handler (e.g. to keep a library's chatter out).
    """
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
        force=True,
    )
    for handler in logging.getLogger().handlers:
        for keep in filters:
            handler.addFilter(keep)
    logging.getLogger(WARNINGS_LOGGER).setLevel(logging.ERROR if quiet else logging.WARNING)
    warnings.showwarning = _log_warning


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Log a warning as one line: ``warning (<category>): <text>`` (no source line)."""
    text = " ".join(str(message).split())
    where = filename.rsplit("/", 1)[-1]
    logging.getLogger(WARNINGS_LOGGER).warning(
        "warning (%s, %s:%d): %s", category.__name__, where, lineno, text
    )


#: The variable Dask itself reads for a scheduler address (``--scheduler``'s default).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def check_engine(
    ctx: click.Context,
    *,
    engine: str,
    scheduler: str | None,
    workers: int | None,
    partitions: int | None = None,
) -> str | None:
    """Check the Dask options against ``--engine``; return the scheduler address to use.

    ``--scheduler``, ``--workers`` and ``--partitions`` apply to ``--engine dask`` only (a
    scheduler address from :data:`SCHEDULER_ENV` is ignored by the local engine), and
    ``--workers`` sizes a local cluster, so it cannot go with a scheduler address.

    Raises
    ------
    click.UsageError
        One line naming the options that do not go together.
    """
    from_env = ctx.get_parameter_source("scheduler") == click.core.ParameterSource.ENVIRONMENT
    if engine == "local":
        given = [
            o
            for o, v in (
                ("--scheduler", scheduler and not from_env),
                ("--workers", workers),
                ("--partitions", partitions),
            )
            if v
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            msg = f"{' and '.join(given)} {verb} to --engine dask only; add --engine dask"
            raise click.UsageError(msg, ctx)
        return None
    if scheduler and workers:
        source = f"{SCHEDULER_ENV} is set" if from_env else "--scheduler is given"
        msg = (
            f"--workers sizes a local cluster, but {source}: the existing cluster's own "
            "workers are used. Drop --workers, or the scheduler address"
        )
        raise click.UsageError(msg, ctx)
    return scheduler or None
