"""Plugin discovery through real entry points: a good, a broken and a misspelled distribution."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparsebench.cli import cli
from sparsebench.contracts.errors import PluginError, SpecError
from sparsebench.hooks.loader import DEFAULT_PLUGINS, load_plugins

GOOD = '''
from sparsebench import hookimpl
from sparsebench.contracts.components import GeneratedBatch, Generator

class Shout(Generator):
    name = "shout"
    description = "repeats positives in capitals"
    def generate(self, request):
        texts = [f"{p.upper()}! ({i})" for i, p in zip(range(request.n), __import__("itertools").cycle(request.positives))]
        yield GeneratedBatch(texts)

@hookimpl
def register_generators(register):
    register(Shout)
'''
BROKEN = "import sparsebench\nraise RuntimeError('this plugin is broken on purpose')\n"
MISSPELLED = '''
from sparsebench import hookimpl

@hookimpl
def register_generator(register):
    pass
'''
WRONG_TYPE = '''
from sparsebench import hookimpl

class NotAGenerator:
    name = "nope"

@hookimpl
def register_generators(register):
    register(NotAGenerator)
'''
DATASET = '''
import numpy as np
from sparsebench import hookimpl
from sparsebench.contracts.components import Dataset, LabelledTexts

class Tiny(Dataset):
    name = "tiny"
    description = "a handful of rows"
    def load(self, ctx):
        texts = [f"row {i}" for i in range(20)]
        return LabelledTexts(texts, np.array([i % 2 for i in range(20)]), ["tiny"] * 20)

@hookimpl
def register_datasets(register):
    register(Tiny)
'''
UNMARKED = '''
from sparsebench import hookimpl
from sparsebench.plugins.generators.oversample import Oversample

def register_generators(register):
    register(Oversample)
'''
NAME_ERROR = "import sparsebench\n\nx = undefined_name + 1\n"
DUPLICATE = '''
from sparsebench import hookimpl
from sparsebench.plugins.generators.oversample import Oversample

@hookimpl
def register_generators(register):
    register(Oversample)
'''


def install(site: Path, dist: str, module: str, source: str, version: str = "1.0") -> None:
    """A fake installed distribution: a module and a dist-info with a sparsebench entry point.

    The distribution joins ``SPARSEBENCH_PLUGINS`` (which conftest sets to none, so that plugins installed in the
    environment stay out of tests; the autouse monkeypatch restores it after the test).
    """
    allowed = [name for name in os.environ.get("SPARSEBENCH_PLUGINS", "").split(",") if name]
    os.environ["SPARSEBENCH_PLUGINS"] = ",".join([*allowed, dist])
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[sparsebench]\n{dist} = {module}\n")


def by_name(plugins, name: str):
    return next(info for info in plugins.infos if info.name == name)


def test_builtins_register_through_the_same_hooks(plugins) -> None:
    assert len([i for i in plugins.infos if i.source == "builtin"]) == len(DEFAULT_PLUGINS)
    assert all(i.status == "ok" for i in plugins.infos), [i.error for i in plugins.failures]
    for kind, name in (("dataset", "toxic-mix"), ("generator", "oversample"), ("generator", "real-only"), ("generator", "real-extra"), ("classifier", "logreg")):
        assert name in plugins.registry.names(kind)


def test_entry_point_plugins_load_one_by_one(site: Path) -> None:
    install(site, "sparsebench-shout", "sb_shout", GOOD, version="2.3")
    install(site, "sparsebench-broken", "sb_broken", BROKEN)
    install(site, "sparsebench-typo", "sb_typo", MISSPELLED)
    install(site, "sparsebench-wrongtype", "sb_wrongtype", WRONG_TYPE)
    install(site, "sparsebench-dup", "sb_dup", DUPLICATE)
    plugins = load_plugins()
    good = by_name(plugins, "sparsebench-shout")
    assert (good.status, good.version, good.registered) == ("ok", "2.3", ["generator:shout"])
    assert plugins.registry.get("generator", "shout").plugin == "sparsebench-shout"
    broken = by_name(plugins, "sparsebench-broken")
    assert broken.status == "error" and "this plugin is broken on purpose" in broken.error
    typo = by_name(plugins, "sparsebench-typo")
    assert typo.status == "error" and "unknown hook 'register_generator'" in typo.error and "register_generators" in typo.error
    wrong = by_name(plugins, "sparsebench-wrongtype")
    assert wrong.status == "error" and "not a subclass of Generator" in wrong.error and "sparsebench-wrongtype" in wrong.error
    dup = by_name(plugins, "sparsebench-dup")
    assert dup.status == "error" and "already registered by plugin 'oversample'" in dup.error
    assert "nope" not in plugins.registry.names("generator")


def test_datasets_register_through_entry_points(site: Path, data_dir: Path) -> None:
    install(site, "sparsebench-tiny", "sb_tiny", DATASET)
    plugins = load_plugins()
    entry = plugins.registry.get("dataset", "tiny")
    assert entry.plugin == "sparsebench-tiny"
    from sparsebench.contracts.components import DataContext

    assert len(entry.cls().load(DataContext(data_dir)).texts) == 20


def test_strict_mode_makes_failures_fatal(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(site, "sparsebench-broken", "sb_broken", BROKEN)
    with pytest.raises(PluginError, match="sparsebench-broken"):
        load_plugins(strict=True)
    monkeypatch.setenv("SPARSEBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError):
        load_plugins()


def test_environment_variable_limits_external_plugins(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(site, "sparsebench-shout", "sb_shout", GOOD)
    install(site, "sparsebench-broken", "sb_broken", BROKEN)
    monkeypatch.setenv("SPARSEBENCH_PLUGINS", "sparsebench-shout")
    plugins = load_plugins()
    assert by_name(plugins, "sparsebench-shout").status == "ok"
    assert by_name(plugins, "sparsebench-broken").status == "excluded"
    assert not plugins.failures
    monkeypatch.setenv("SPARSEBENCH_PLUGINS", "")
    plugins = load_plugins()
    assert "shout" not in plugins.registry.names("generator")
    assert "oversample" in plugins.registry.names("generator")


def test_bench_plugins_lists_status_and_reasons(site: Path) -> None:
    install(site, "sparsebench-shout", "sb_shout", GOOD, version="2.3")
    install(site, "sparsebench-typo", "sb_typo", MISSPELLED)
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    infos = {i["name"]: i for i in json.loads(result.output)}
    assert infos["sparsebench-shout"]["version"] == "2.3" and infos["sparsebench-shout"]["registered"] == ["generator:shout"]
    assert infos["sparsebench-typo"]["status"] == "error"
    assert infos["oversample"]["source"] == "builtin"
    table = CliRunner().invoke(cli, ["plugins"])
    assert table.exit_code == 0 and "unknown hook 'register_generator'" in table.output


def test_a_broken_plugin_does_not_stop_a_run(site: Path, data_dir: Path, tmp_path: Path) -> None:
    install(site, "sparsebench-shout", "sb_shout", GOOD)
    install(site, "sparsebench-broken", "sb_broken", BROKEN)
    args = ["run", "-d", "toxic-mix[negatives=1500,positives=300]", "-g", "shout", "-c", "logreg", "-s", "1%", "--bootstrap", "50", "--results", str(tmp_path / "r")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "plugin 'sparsebench-broken' was skipped" in result.output
    assert "shout" in result.output and "done" in result.output


def test_loading_explains_itself(site: Path) -> None:
    install(site, "sparsebench-unmarked", "sb_unmarked", UNMARKED)
    install(site, "sparsebench-nameerror", "sb_nameerror", NAME_ERROR)
    plugins = load_plugins()
    unmarked = by_name(plugins, "sparsebench-unmarked")
    assert unmarked.status == "error" and "function 'register_generators' is not marked @hookimpl" in unmarked.error
    broken = by_name(plugins, "sparsebench-nameerror")
    assert broken.status == "error", broken
    assert f"NameError: name 'undefined_name' is not defined ({site / 'sb_nameerror.py'}, line 3)" in broken.error
    assert 'sb_nameerror.py", line 3' in broken.traceback


def test_unknown_and_excluded_plugin_names_are_reported(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(site, "shout", "sb_shout", GOOD)
    monkeypatch.setenv("SPARSEBENCH_PLUGINS", "other")
    plugins = load_plugins()
    assert plugins.warnings == ["SPARSEBENCH_PLUGINS names 'other', but no installed plugin has that entry point or distribution name"]
    with pytest.raises(SpecError, match="generator 'shout': its plugin 'shout' is installed but was excluded by SPARSEBENCH_PLUGINS"):
        plugins.registry.get("generator", "shout")
    with pytest.raises(SpecError, match=r"unknown generator 'nope' .*not loaded, so not searched: shout \(excluded by SPARSEBENCH_PLUGINS\)"):
        plugins.registry.get("generator", "nope")
    result = CliRunner().invoke(cli, ["run", "-g", "shout", "-c", "logreg", "--dry-run"])
    assert result.exit_code == 2 and "warning: SPARSEBENCH_PLUGINS names 'other'" in result.stderr
    assert "its plugin 'shout' is installed but was excluded" in result.stderr


def test_debug_shows_a_broken_plugins_traceback(site: Path) -> None:
    install(site, "sparsebench-nameerror", "sb_nameerror", NAME_ERROR)
    args = ["run", "-g", "oversample", "-c", "logreg", "-d", "toxic-mix[negatives=500,positives=100]", "--dry-run"]
    plain = CliRunner().invoke(cli, args)
    debug = CliRunner().invoke(cli, ["--debug", *args])
    assert "sb_nameerror.py, line 3" in plain.stderr and "Traceback" not in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr and 'sb_nameerror.py", line 3' in debug.stderr
