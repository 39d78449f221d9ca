"""Command-line options generated from ``MethodParams``, and whole jobs given as YAML files.

A method parameter is added in one place, its ``MethodParams`` field; its option, help text
and choices follow from the field.  ``--config job.yaml`` reads a job (the method under
``method:``, every other option by its name) and ``--print-config`` writes the job as it
would run, in the same format, so a tuned or hand-edited file is a whole, reproducible job.
Precedence: the paper's values (the field defaults), then the ensemble's own (its manifest's
``method`` section, e.g. parameters tuned for it by ``cxai-tune``), then the file, then
options given on the command line.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from dataclasses import fields

import yaml

from catalog_xai import storage
from catalog_xai.core.params import MethodParams

METHOD_SECTION = "method"


def _field_type(f) -> type:
    """The scalar type of a field annotated as ``int``, ``str | None``, ... (annotations are strings here)."""
    hint = typing.get_type_hints(MethodParams)[f.name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def add_method_arguments(parser: argparse.ArgumentParser, title: str = "method (the ensemble's defaults, else the "
                                                                          "paper's)") -> None:
    """One option per ``MethodParams`` field: ``--n-samples``, ``--s-noise``, ``--x-input/--no-x-input``, ...

    Every option defaults to None, "not given", so that the ensemble's own defaults can apply
    (``method_params``); the help shows the paper's value.
    """
    group = parser.add_argument_group(title)
    for f in fields(MethodParams):
        flag = "--" + f.name.replace("_", "-")
        kind = _field_type(f)
        shown = "the ensemble's own" if f.default is None else f"the ensemble's, else {f.default}"
        help_ = f"{f.metadata['help']} (default: {shown})"
        if kind is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_)
        else:
            group.add_argument(flag, dest=f.name, type=kind, default=None, choices=f.metadata.get("choices"),
                               help=help_)


def method_overrides(args: argparse.Namespace) -> dict:
    """The method parameters given (on the command line or in a job file), by name."""
    return {f.name: getattr(args, f.name) for f in fields(MethodParams) if getattr(args, f.name, None) is not None}


def method_params(args: argparse.Namespace, manifest: dict | None = None) -> MethodParams:
    """The ``MethodParams`` of parsed options over the ensemble's defaults (its manifest's ``method``).

    Raises
    ------
    ValueError
        Naming a parameter that is out of range or unknown (in the options or the manifest).
    """
    own = dict((manifest or {}).get(METHOD_SECTION) or {})
    return MethodParams.from_dict({**own, **method_overrides(args)})


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="JOB.yaml",
                        help="a whole job as YAML (local path or fsspec URL): the method under 'method:', other "
                             "options by name; options given here override it")
    parser.add_argument("--print-config", action="store_true", help="write this job as YAML to stdout and exit")


def read_job_file(url: str) -> dict:
    """A job file as one flat dict of option names (the ``method`` section merged in).

    Raises
    ------
    ValueError
        When the file is not a YAML mapping, or names an unknown method parameter.
    """
    fs, path = storage.filesystem(url)
    with fs.open(path, "r") as f:
        doc = yaml.safe_load(f) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{url}: a job file is a YAML mapping of options, got {type(doc).__name__}")
    method = doc.pop(METHOD_SECTION, None) or {}
    MethodParams.from_dict(method)  # names an unknown or out-of-range parameter, with the file's values
    return {**{k.replace("-", "_"): v for k, v in doc.items()}, **method}


def parse_job(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse options with ``--config`` files applied first; ``parser`` must have ``add_config_arguments``.

    An unknown key in the file is an error that names it, as an unknown option would be.
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if known.config:
        try:
            values = read_job_file(known.config)
        except (OSError, ValueError, yaml.YAMLError) as err:
            parser.error(f"--config {known.config}: {err}")
        dests = {a.dest for a in parser._actions}
        unknown = sorted(set(values) - dests)
        if unknown:
            parser.error(f"--config {known.config}: unknown option(s) {unknown}")
        parser.set_defaults(**values)
    return parser.parse_args(argv)


def job_document(args: argparse.Namespace, params: MethodParams, skip: tuple[str, ...] = ()) -> dict:
    """The job as a YAML-ready dict: the non-method options, then ``method:`` with every parameter."""
    method = {f.name for f in fields(MethodParams)}
    skip = set(skip) | {"config", "print_config"}
    doc = {k: v for k, v in vars(args).items() if k not in method and k not in skip}
    doc[METHOD_SECTION] = params.to_dict()
    return doc


def dump_job(doc: dict, stream=None) -> str:
    """Write a job document as YAML (to ``stream`` if given) and return the text."""
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    if stream is not None:
        stream.write(text)
    return text


def print_job(args: argparse.Namespace, params: MethodParams, skip: tuple[str, ...] = ()) -> int:
    dump_job(job_document(args, params, skip), sys.stdout)
    return 0
