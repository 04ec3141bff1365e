"""Where the functions get Powertools: AWS's public layer (SSM), a given layer, or the zip itself
(issue 10, item 5)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline_model.config import POWERTOOLS_VERSION, ConfigError, build_config
from pipeline_model.packaging import PackagingError, powertools_bundle

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("producer", "consumer_main")
LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:18"


def test_default_reads_the_public_ssm_parameter(tf):
    assert tf["data"]["aws_ssm_parameter"]["powertools_layer"]["name"].endswith(f"/python3.12/{POWERTOOLS_VERSION}")
    for function in FUNCTIONS:
        assert tf["module"][function]["layers"] == ["${data.aws_ssm_parameter.powertools_layer.value}"]


def test_an_explicit_layer_arn_needs_no_parameter(synth_config):
    doc = synth_config([build_config(region="eu-west-1", powertools_layer=LAYER)]).only
    assert "aws_ssm_parameter" not in doc.get("data", {})
    for function in FUNCTIONS:
        assert doc["module"][function]["layers"] == [LAYER]


def test_china_regions_take_a_layer_arn_or_none_but_not_ssm():
    with pytest.raises(ConfigError) as caught:
        build_config(region="cn-north-1")
    assert "  powertools_layer: 'ssm' reads AWS's public Powertools parameter, which cn-north-1 does not have" in str(
        caught.value
    )
    china = "arn:aws-cn:lambda:cn-north-1:123456789012:layer:powertools:3"
    assert build_config(region="cn-north-1", powertools_layer=china).powertools_layer == china
    assert build_config(region="cn-north-1", powertools_layer="none").powertools_layer_parameter() is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"powertools_layer": "latest"}, "powertools_layer: 'latest' must be 'ssm', 'none' or a Lambda layer version ARN"),
        ({"powertools_layer": LAYER.rsplit(":", 1)[0]}, "must be 'ssm', 'none' or a Lambda layer version ARN"),
        ({"powertools_layer": LAYER.replace(":layer:", ":function:")}, "a Lambda layer version ARN"),
        ({"powertools_layer": LAYER}, "is not in us-east-1 (aws); a function can only use layers of its own region"),
        ({"region": "us-gov-west-1", "powertools_layer": LAYER.replace("eu-west-1", "us-gov-west-1")},
         "is not in us-gov-west-1 (aws-us-gov)"),
        ({"powertools_layer": "none", "powertools_version": "latest"},
         "powertools_version: powertools_layer = 'none' packages an exact release; 'latest' is not one"),
        ({"powertools_layer": "none", "powertools_version": ""}, "packages an exact release"),
    ],
)
def test_layer_settings_are_checked(settings, message):
    with pytest.raises(ConfigError) as caught:
        build_config(**settings)
    assert message in str(caught.value)


def _use_tools_uv(patch):
    """Where this checkout's .venv has no pip: the uv `make` installs (and exports as PIPELINE_UV)."""
    tools_uv = PROJECT_ROOT / ".venv-tools" / "bin" / "uv"
    if not os.environ.get("PIPELINE_UV") and os.access(tools_uv, os.X_OK):
        patch.setenv("PIPELINE_UV", str(tools_uv))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The pinned release installed for the runtime where the synth looks for it.

    A synth keeps the bundle in ``.build/powertools`` beside the app's output folder, and the
    ``synth_config`` apps write into the session's temporary folder; installing takes the package
    index, so the release is installed once per machine (the repository's .build/) and copied there.
    """
    try:
        with pytest.MonkeyPatch.context() as patch:
            _use_tools_uv(patch)
            cached = powertools_bundle(POWERTOOLS_VERSION, cache_dir=PROJECT_ROOT / ".build" / "powertools")
    except PackagingError as error:
        pytest.skip(f"installing Powertools needs the package index the first time: {error}")
    target = tmp_path_factory.getbasetemp() / ".build" / "powertools" / cached.name
    if not target.exists():
        shutil.copytree(cached, target, symlinks=True)
    return target


def test_none_packages_the_pinned_release_into_every_zip(synth_config, bundle, tmp_path):
    result = synth_config([build_config(powertools_layer="none")])
    doc = result.only
    assert "aws_ssm_parameter" not in doc.get("data", {})
    for function in FUNCTIONS:
        module = doc["module"][function]
        assert "layers" not in module
        package = result.stack_dir("event-driven-pipeline") / module["local_existing_package"]
        with zipfile.ZipFile(package) as archive:
            names = archive.namelist()
            assert "app.py" in names
            assert "aws_lambda_powertools/__init__.py" in names
            assert not [n for n in names if n.endswith(("RECORD", "INSTALLER", "direct_url.json")) or "__pycache__" in n]
            target = tmp_path / function
            archive.extractall(target)
        # The zip alone (no site-packages) imports Powertools at the pinned version, and what it needs.
        probe = (
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "import aws_lambda_powertools, jmespath, typing_extensions; "
            "from aws_lambda_powertools.shared.version import VERSION; print(VERSION)"
        )
        out = subprocess.run([sys.executable, "-S", "-c", probe, str(target)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == POWERTOOLS_VERSION
        assert not (target / "boto3").exists(), "the Lambda runtime provides boto3"


def test_bundle_is_cached_per_release(bundle):
    marker = bundle / ".complete"
    before = marker.stat().st_mtime_ns
    assert powertools_bundle(POWERTOOLS_VERSION, cache_dir=bundle.parent) == bundle
    assert marker.stat().st_mtime_ns == before, "a second synth reuses the install"


def _tree(folder):
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".complete"
    }


def test_uv_installs_the_same_bundle_where_the_environment_has_no_pip(bundle, tmp_path, monkeypatch):
    """`make` builds .venv with uv and without pip: the bundle then comes from uv, file for file
    what pip installs (records dropped, no uv lock file left in the zip)."""
    import pipeline_model.packaging as packaging

    _use_tools_uv(monkeypatch)
    if packaging.find_uv() is None:
        pytest.skip("no uv here ($PIPELINE_UV, PATH or .venv-tools/bin/uv)")
    monkeypatch.setattr(packaging, "_has_pip", lambda: False)
    try:
        by_uv = powertools_bundle(POWERTOOLS_VERSION, cache_dir=tmp_path)
    except PackagingError as error:
        pytest.skip(f"uv could not reach the package index: {error}")
    files = _tree(by_uv)
    assert "aws_lambda_powertools/__init__.py" in files
    assert not [name for name in files if name.endswith(("RECORD", "INSTALLER", "REQUESTED", ".lock"))]
    assert files == _tree(bundle)


def test_without_pip_or_uv_the_error_names_both(tmp_path, monkeypatch):
    import pipeline_model.packaging as packaging

    monkeypatch.setattr(packaging, "_has_pip", lambda: False)
    monkeypatch.setattr(packaging, "find_uv", lambda: None)
    with pytest.raises(PackagingError) as caught:
        powertools_bundle(POWERTOOLS_VERSION, cache_dir=tmp_path)
    assert "needs pip in this Python" in str(caught.value) and "uv" in str(caught.value)


def _fake_bundle(folder, marker_text):
    (folder / "aws_lambda_powertools").mkdir(parents=True)
    (folder / "aws_lambda_powertools" / "__init__.py").write_text("EVIL = 1\n")
    (folder / ".complete").write_text(marker_text)


@pytest.mark.parametrize("marker", ["old", "forged-other-files"])
def test_a_foreign_bundle_in_the_cache_is_never_reused(tmp_path, monkeypatch, marker):
    """A folder placed where the bundle is cached (an older marker, or a marker whose file hash does
    not match the files) is installed afresh, never packaged."""
    import json

    import pipeline_model.packaging as packaging

    target = tmp_path / f"{POWERTOOLS_VERSION}-py3.12-x86_64"
    if marker == "old":  # what earlier versions wrote: the requirement alone
        _fake_bundle(target, f"aws-lambda-powertools=={POWERTOOLS_VERSION}\n")
    else:
        _fake_bundle(target, json.dumps({"format": packaging.PACKAGE_FORMAT, "files": "0" * 64,
                                         "requirement": f"aws-lambda-powertools=={POWERTOOLS_VERSION}"}))
    installs = []

    def install(partial, packages, **_):
        installs.append(packages[0])
        script = ("import pathlib, sys; p = pathlib.Path(sys.argv[1]) / 'aws_lambda_powertools'; "
                  "p.mkdir(parents=True); (p / '__init__.py').write_text('GOOD = 1\\n')")
        return "pip", [sys.executable, "-c", script, str(partial)]

    monkeypatch.setattr(packaging, "target_install_command", install)
    bundle = powertools_bundle(POWERTOOLS_VERSION, cache_dir=tmp_path)
    assert installs == [f"aws-lambda-powertools=={POWERTOOLS_VERSION}"]
    assert (bundle / "aws_lambda_powertools" / "__init__.py").read_text() == "GOOD = 1\n"
    # The fresh install is recorded and reused; a change to it afterwards is noticed again.
    assert powertools_bundle(POWERTOOLS_VERSION, cache_dir=tmp_path) == bundle and len(installs) == 1
    (bundle / "aws_lambda_powertools" / "__init__.py").write_text("EVIL = 1\n")
    powertools_bundle(POWERTOOLS_VERSION, cache_dir=tmp_path)
    assert len(installs) == 2 and (bundle / "aws_lambda_powertools" / "__init__.py").read_text() == "GOOD = 1\n"
