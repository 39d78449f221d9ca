"""The method's options come from MethodParams; a job round-trips through its YAML file; the README's
Python example runs as written."""

import argparse
import re
from dataclasses import fields
from pathlib import Path

import pytest

from catalog_xai import storage
from catalog_xai.cli import classify_survey
from catalog_xai.cli.options import add_method_arguments, method_params, read_job_file
from catalog_xai.core.params import PAPER, MethodParams

REPO = Path(__file__).resolve().parent.parent


def test_every_parameter_has_one_generated_option_with_its_help():
    ap = argparse.ArgumentParser()
    add_method_arguments(ap)
    by_dest = {a.dest: a for a in ap._actions}
    for f in fields(MethodParams):
        action = by_dest[f.name]
        assert action.option_strings[0] == "--" + f.name.replace("_", "-")
        assert f.metadata["help"] in action.help
        assert action.default is None  # "not given": the ensemble's defaults, then the paper's, apply
        if f.metadata.get("choices"):
            assert tuple(action.choices) == f.metadata["choices"]
    args = ap.parse_args(["--n-samples", "7", "--s-noise", "0.2", "--x-input", "--linearity", "eigen",
                          "--framing", "petrosian"])
    p = method_params(args)
    assert (p.n_samples, p.s_noise, p.x_input, p.linearity, p.framing) == (7, 0.2, True, "eigen", "petrosian")
    assert method_params(ap.parse_args([])) == PAPER
    # an ensemble's own defaults (its manifest) come under what is given, over the paper's
    own = {"method": {"tc": 0.7, "tl": 12, "n_samples": 32}}
    p = method_params(ap.parse_args(["--tl", "40"]), own)
    assert (p.tc, p.tl, p.n_samples, p.s_noise) == (0.7, 40, 32, PAPER.s_noise)
    with pytest.raises(ValueError, match="Unknown method parameter"):
        method_params(ap.parse_args([]), {"method": {"t_c": 0.7}})
    with pytest.raises(SystemExit):
        ap.parse_args(["--linearity", "spearman"])  # choices come from the field


def test_print_config_then_config_is_the_same_job(tmp_path, capsys):
    argv = ["--input", "s3://b/survey/", "--output", "s3://b/vac/", "--n-samples", "64", "--tl", "40", "--kpc-h",
            "--batch-size", "8"]
    assert classify_survey.main([*argv, "--print-config"]) == 0
    text = capsys.readouterr().out
    job = tmp_path / "job.yaml"
    job.write_text(text)
    assert classify_survey.main(["--config", str(job), "--print-config"]) == 0
    assert capsys.readouterr().out == text  # the file alone reproduces the job
    values = read_job_file(str(job))
    assert values["batch_size"] == 8 and values["input"] == "s3://b/survey/"
    assert values["checkpoint"] == "sdss-finetuned" and values["bar_checkpoint"] == "saliency-evidence"
    bar_method = storage.read_manifest(storage.DEFAULT_BAR_CHECKPOINT)["method"]  # its read-out, under the options
    assert MethodParams.from_dict({f.name: values[f.name] for f in fields(MethodParams)}) == MethodParams(
        **{**bar_method, "n_samples": 64, "tl": 40, "kpc_h": True})
    # The command line wins over the file.
    assert classify_survey.main(["--config", str(job), "--tl", "20", "--print-config"]) == 0
    assert re.search(r"^  tl: 20$", capsys.readouterr().out, re.M)


def test_config_errors_name_the_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("method:\n  n_sample: 4\n")
    with pytest.raises(SystemExit):
        classify_survey.main(["--config", str(bad), "--print-config"])
    assert "n_sample" in capsys.readouterr().err
    bad.write_text("batchsize: 4\n")
    with pytest.raises(SystemExit):
        classify_survey.main(["--config", str(bad), "--print-config"])
    assert "unknown option(s) ['batchsize']" in capsys.readouterr().err
    bad.write_text("method:\n  tc: 3\n")
    with pytest.raises(SystemExit):
        classify_survey.main(["--config", str(bad), "--print-config"])
    assert "tc must be in (0, 1]" in capsys.readouterr().err


def test_readme_python_example_runs_as_written(monkeypatch, capsys):
    text = (REPO / "README.md").read_text()
    section = text[text.index("## In Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "from catalog_xai import load_ensemble" in code and len(code.strip().splitlines()) <= 14
    monkeypatch.chdir(REPO)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.strip().splitlines()
    lengths = [float(v) for v in re.findall(r"[\d.]+", out[-1])]
    assert len(lengths) == 4 and all(1 <= v <= 112 * 2 for v in lengths)
    assert "no redshift: kpc not computed" in " ".join(out)  # the sample has no redshifts


def test_shipped_ensembles_method_defaults_are_valid_parameters():
    """Each built-in ensemble's own defaults (its manifest's ``method``) are parameters the job accepts."""
    from catalog_xai import storage

    for name in storage.BUILTIN_CHECKPOINTS:
        manifest = storage.read_manifest(name)
        params = MethodParams.from_dict(manifest.get("method", {}))
        for key, value in manifest.get("method", {}).items():
            assert getattr(params, key) == value


def test_compile_takes_an_optional_torch_compile_mode():
    ap = classify_survey.build_parser()
    assert ap.parse_args([]).compile is None
    assert ap.parse_args(["--compile"]).compile == "default"
    assert ap.parse_args(["--compile", "max-autotune-no-cudagraphs"]).compile == "max-autotune-no-cudagraphs"
    with pytest.raises(SystemExit):
        ap.parse_args(["--compile", "fastest"])
