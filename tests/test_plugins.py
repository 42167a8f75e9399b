"""Plugin discovery through entry points, selection, load failures, inline plugins, tracing.

Where a test needs a distribution that is not part of the workspace, it writes a real
``*.dist-info`` directory (METADATA + entry_points.txt) and a module into a temporary directory
on ``sys.path``, so discovery goes through ``importlib.metadata`` exactly as for installed
packages. Tests pass ``env=`` explicitly so a developer's own ``SUPERVM_PLUGINS`` cannot leak in,
and most restrict discovery with an allow-list so the workspace plugins are found but not
imported.
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import supervm.builtins.scheduler_serial as scheduler_serial
from supervm import Kernel, PluginError, PluginInfo, PluginLoadWarning, Selection, hookimpl
from supervm.plugins.loading import ENTRY_POINT_GROUP, ENV_PLUGINS, ENV_TRACE, PluginSet
from supervm.plugins.registry import SchedulerRegistry, StorageRegistry

INSTALLED = {
    "scheduler_serial": "supervm",
    "storage_memory": "supervm-storage-memory",
    "storage_lmdb": "supervm-storage-lmdb",
    "wasm_wasmtime": "supervm-wasm-wasmtime",
}
ONLY_SERIAL = {ENV_PLUGINS: "scheduler_serial"}

GOOD_MODULE = """
from supervm import hookimpl
from supervm.builtins.scheduler_serial import SerialScheduler

@hookimpl
def supervm_register_scheduler(registry):
    registry.add_scheduler("{name}_sched", SerialScheduler)

@hookimpl
def supervm_observe_block(proposal, result):
    pass
"""


# -- temporary distributions -------------------------------------------------------------------

MakeDist = Callable[..., None]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Install a fake distribution: ``make_dist(dist, version, {ep_name: module_source})``."""
    modules: list[str] = []
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(dist: str, version: str, entry_points: dict[str, str]) -> None:
        info = tmp_path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = [f"[{ENTRY_POINT_GROUP}]"]
        for ep_name, source in entry_points.items():
            module = f"{dist}_{ep_name}_{tmp_path.name}".replace("-", "_")
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
            modules.append(module)
            lines.append(f"{ep_name} = {module}")
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")

    yield make
    for module in modules:
        sys.modules.pop(module, None)


def infos_by_name(plugins: PluginSet) -> dict[str, PluginInfo]:
    return {info.name: info for info in plugins.infos()}


# -- discovery of the installed plugins --------------------------------------------------------


def test_installed_plugins_are_discovered() -> None:
    # The allow-list keeps the other plugins unimported; they are still listed.
    infos = infos_by_name(PluginSet(Selection.parse(env=ONLY_SERIAL)))

    assert set(INSTALLED) <= set(infos)
    for name, dist in INSTALLED.items():
        info = infos[name]
        assert info.distribution == dist
        assert info.version == importlib.metadata.version(dist)
        assert info.error is None
    assert infos["scheduler_serial"].enabled
    assert infos["scheduler_serial"].hooks == ("supervm_register_scheduler",)
    for name in INSTALLED.keys() - {"scheduler_serial"}:
        assert not infos[name].enabled
        assert infos[name].hooks == ()


def test_all_installed_plugins_load() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginLoadWarning)
        plugins = PluginSet(Selection.parse(env={}))
    infos = infos_by_name(plugins)
    for name in INSTALLED:
        assert infos[name].enabled, infos[name]
        assert infos[name].error is None
    assert set(INSTALLED) <= set(plugins.enabled_names())


def test_builtin_scheduler_comes_from_its_entry_point() -> None:
    kernel = Kernel.from_plugins(env=ONLY_SERIAL)
    assert kernel.plugins.enabled_names() == ["scheduler_serial"]
    assert kernel.schedulers.entry("serial").plugin == "scheduler_serial"
    assert kernel.default_name("scheduler") == "serial"


def test_infos_are_sorted_by_name(make_dist: MakeDist) -> None:
    make_dist("supervm-test-zz", "1.0", {"aaa_first": GOOD_MODULE.format(name="a")})
    names = [i.name for i in PluginSet(Selection.parse(env=ONLY_SERIAL)).infos()]
    assert names == sorted(names)
    assert "aaa_first" in names


# -- Selection.parse ---------------------------------------------------------------------------


def test_no_selection_enables_everything() -> None:
    selection = Selection.parse(env={})
    assert selection == Selection()
    assert selection.enables("anything")


def test_env_allow_list() -> None:
    selection = Selection.parse(env={ENV_PLUGINS: " storage_memory, scheduler_serial ,,"})
    assert selection.allow == {"storage_memory", "scheduler_serial"}
    assert selection.enables("storage_memory")
    assert selection.enables("scheduler_serial")
    assert not selection.enables("storage_lmdb")


def test_empty_env_allow_list_enables_everything() -> None:
    assert Selection.parse(env={ENV_PLUGINS: ""}).enables("x")
    assert Selection.parse(env={ENV_PLUGINS: " , "}).enables("x")


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PLUGINS, "only_me")
    selection = Selection.parse()
    assert selection.allow == {"only_me"}
    assert not selection.enables("other")
    # An explicit env wins over os.environ.
    assert Selection.parse(env={}).enables("other")


def test_plugin_option_enables_and_prefers() -> None:
    selection = Selection.parse(["b", "c,a", "b"], env={ENV_PLUGINS: "a"})
    assert selection.prefer == ("b", "c", "a")
    assert selection.enables("a")
    assert selection.enables("b")  # outside the allow-list, enabled by --plugin
    assert selection.enables("c")
    assert not selection.enables("d")


def test_plugin_option_blocks() -> None:
    selection = Selection.parse(["no:a", "b,no:c"], env={})
    assert selection.block == {"a", "c"}
    assert selection.prefer == ("b",)
    assert not selection.enables("a")
    assert not selection.enables("c")
    assert selection.enables("b")
    assert selection.enables("d")  # no allow-list: everything not blocked


def test_block_beats_allow_list_and_prefer() -> None:
    selection = Selection.parse(["x", "no:x"], env={ENV_PLUGINS: "x"})
    assert not selection.enables("x")


def test_allow_list_and_blocking_on_installed_plugins() -> None:
    kernel = Kernel.from_plugins(["no:scheduler_serial"], env=ONLY_SERIAL)
    info = infos_by_name(kernel.plugins)["scheduler_serial"]
    assert not info.enabled
    assert info.distribution == "supervm"
    assert kernel.plugins.enabled_names() == []
    assert len(kernel.schedulers) == 0


def test_selection_applies_to_inline_plugins() -> None:
    class Sched:
        def __init__(self, name: str) -> None:
            self.name = name

        @hookimpl
        def supervm_register_scheduler(self, registry: SchedulerRegistry) -> None:
            registry.add_scheduler(self.name, scheduler_serial.SerialScheduler)

    extra = [("a", Sched("sa")), ("b", Sched("sb")), ("c", Sched("sc"))]
    kernel = Kernel.from_plugins(["c"], discover=False, extra=extra, env={ENV_PLUGINS: "a"})
    assert kernel.schedulers.names() == ["sa", "sc"]
    assert kernel.default_name("scheduler") == "sc"
    infos = infos_by_name(kernel.plugins)
    assert [infos[n].enabled for n in "abc"] == [True, False, True]


def test_unknown_plugin_option_names_installed_plugins() -> None:
    with pytest.raises(PluginError) as info:
        Kernel.from_plugins(["nosuch"], env=ONLY_SERIAL)
    message = str(info.value)
    assert message.startswith("no plugin named 'nosuch' is installed (installed: ")
    for name in INSTALLED:
        assert name in message


def test_unknown_plugin_option_with_nothing_installed() -> None:
    with pytest.raises(PluginError, match=r"no plugin named 'x' is installed \(installed: none\)"):
        Kernel.from_plugins(["x"], discover=False, env={})


def test_blocking_an_unknown_plugin_is_not_an_error() -> None:
    kernel = Kernel.from_plugins(["no:nosuch"], env=ONLY_SERIAL)
    assert "serial" in kernel.schedulers


# -- load failures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
        ("import supervm_no_such_dependency\n", "ModuleNotFoundError: No module named"),
        ("def broken(:\n", "SyntaxError"),
    ],
)
def test_plugin_failing_to_import_warns_and_the_others_load(
    make_dist: MakeDist, source: str, error: str
) -> None:
    make_dist("supervm-test-broken", "1.2.3", {"broken": source})
    make_dist("supervm-test-good", "2.5.0", {"good": GOOD_MODULE.format(name="good")})

    with pytest.warns(PluginLoadWarning) as record:
        kernel = Kernel.from_plugins(env={ENV_PLUGINS: "broken,good,scheduler_serial"})

    messages = [str(w.message) for w in record if issubclass(w.category, PluginLoadWarning)]
    assert len(messages) == 1
    assert "plugin 'broken' from distribution supervm-test-broken failed to load" in messages[0]
    assert error in messages[0]

    infos = infos_by_name(kernel.plugins)
    broken = infos["broken"]
    assert broken.distribution == "supervm-test-broken"
    assert broken.version == "1.2.3"
    assert not broken.enabled
    assert broken.hooks == ()
    assert broken.error is not None and error in broken.error

    assert infos["good"].enabled and infos["scheduler_serial"].enabled
    assert kernel.schedulers.names() == ["good_sched", "serial"]


def test_selected_plugin_that_failed_to_load_is_not_unknown(make_dist: MakeDist) -> None:
    make_dist("supervm-test-broken", "1.0", {"broken": "raise ImportError('nope')\n"})
    with pytest.warns(PluginLoadWarning, match="ImportError: nope"):
        kernel = Kernel.from_plugins(["broken"], env=ONLY_SERIAL)
    assert infos_by_name(kernel.plugins)["broken"].error == "ImportError: nope"


def test_disabled_plugins_are_not_imported(make_dist: MakeDist) -> None:
    make_dist("supervm-test-broken", "1.0", {"broken": "raise RuntimeError('imported!')\n"})

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        blocked = Kernel.from_plugins(["no:broken"], env=ONLY_SERIAL)
        not_allowed = Kernel.from_plugins(env=ONLY_SERIAL)

    for kernel in (blocked, not_allowed):
        info = infos_by_name(kernel.plugins)["broken"]
        assert not info.enabled
        assert info.error is None
        assert info.distribution == "supervm-test-broken"


def test_entry_point_name_taken_twice_warns_naming_both(make_dist: MakeDist) -> None:
    make_dist("supervm-test-twin-a", "1.0", {"twin": GOOD_MODULE.format(name="a")})
    make_dist("supervm-test-twin-b", "1.0", {"twin": GOOD_MODULE.format(name="b")})

    with pytest.warns(PluginLoadWarning) as record:
        plugins = PluginSet(Selection.parse(env={ENV_PLUGINS: "twin"}))

    (message,) = [str(w.message) for w in record]
    assert "plugin 'twin' from supervm-test-twin-" in message
    assert "ignored: the name is already taken by supervm-test-twin-" in message
    assert "twin-a" in message and "twin-b" in message
    assert plugins.enabled_names() == ["twin"]


# -- PluginInfo --------------------------------------------------------------------------------


def test_plugin_info_of_a_discovered_plugin(make_dist: MakeDist) -> None:
    make_dist("supervm-test-good", "2.5.0", {"good": GOOD_MODULE.format(name="good")})
    plugins = PluginSet(Selection.parse(env={ENV_PLUGINS: "good"}))

    assert infos_by_name(plugins)["good"] == PluginInfo(
        name="good",
        distribution="supervm-test-good",
        version="2.5.0",
        hooks=("supervm_observe_block", "supervm_register_scheduler"),
        enabled=True,
        error=None,
    )


def test_plugin_info_of_an_inline_plugin() -> None:
    class Inline:
        @hookimpl
        def supervm_register_storage(self, registry: StorageRegistry) -> None:
            pass

        @hookimpl
        def supervm_register_scheduler(self, registry: SchedulerRegistry) -> None:
            pass

        def supervm_not_a_hook(self) -> None:
            """Unmarked methods are ignored."""

    kernel = Kernel.from_plugins(discover=False, extra=[("inline", Inline())], env={})
    assert kernel.plugins.infos() == [
        PluginInfo(
            "inline",
            "<inline>",
            "0",
            ("supervm_register_scheduler", "supervm_register_storage"),
            True,
        )
    ]


# -- inline plugins ----------------------------------------------------------------------------


def test_inline_plugins_register_after_discovery() -> None:
    class Extra:
        @hookimpl
        def supervm_register_scheduler(self, registry: SchedulerRegistry) -> None:
            registry.add_scheduler("extra", scheduler_serial.SerialScheduler)

    env = {ENV_PLUGINS: "scheduler_serial,extra"}
    kernel = Kernel.from_plugins(extra=[("extra", Extra())], env=env)
    assert kernel.plugins.enabled_names() == ["scheduler_serial", "extra"]
    assert [(e.name, e.plugin) for e in kernel.schedulers.entries()] == [
        ("serial", "scheduler_serial"),
        ("extra", "extra"),
    ]


def test_inline_plugins_are_subject_to_the_allow_list() -> None:
    with pytest.warns(PluginLoadWarning, match="not installed: x"):
        kernel = Kernel.from_plugins(
            discover=False, extra=[("scheduler_serial", scheduler_serial)], env={ENV_PLUGINS: "x"}
        )
    assert not infos_by_name(kernel.plugins)["scheduler_serial"].enabled
    assert len(kernel.schedulers) == 0


def test_allow_list_naming_an_uninstalled_plugin_warns() -> None:
    with pytest.warns(PluginLoadWarning, match="not installed: nosuch"):
        kernel = Kernel.from_plugins(env={ENV_PLUGINS: "scheduler_serial,nosuch"})
    assert kernel.plugins.enabled_names() == ["scheduler_serial"]


def test_inline_module_plugin() -> None:
    kernel = Kernel.from_plugins(discover=False, extra=[("my_serial", scheduler_serial)], env={})
    assert kernel.schedulers.entry("serial").plugin == "my_serial"


def test_inline_plugin_with_the_name_of_a_discovered_one_is_rejected() -> None:
    with pytest.raises(PluginError, match="plugin 'scheduler_serial' from <inline> is invalid"):
        Kernel.from_plugins(extra=[("scheduler_serial", object())], env=ONLY_SERIAL)


def test_hookimpl_with_unknown_argument_is_rejected() -> None:
    class Bad:
        @hookimpl
        def supervm_register_storage(self, registry: StorageRegistry, extra: int) -> None:
            pass

    with pytest.raises(PluginError, match="plugin 'bad' from <inline> is invalid"):
        Kernel.from_plugins(discover=False, extra=[("bad", Bad())], env={})


def test_hookimpl_of_an_unknown_hook_is_rejected() -> None:
    class Typo:
        @hookimpl
        def supervm_register_storag(self, registry: StorageRegistry) -> None:
            pass

    with pytest.raises(PluginError) as info:
        Kernel.from_plugins(discover=False, extra=[("typo", Typo())], env={})
    assert str(info.value).startswith("plugin 'typo' from <inline> is invalid: ")
    assert "supervm_register_storag" in str(info.value)


def test_optional_hookimpl_of_an_unknown_hook_is_allowed() -> None:
    class Future:
        @hookimpl(optionalhook=True)
        def supervm_observe_future(self) -> None:
            pass

    kernel = Kernel.from_plugins(discover=False, extra=[("future", Future())], env={})
    assert infos_by_name(kernel.plugins)["future"].enabled


def test_hookimpl_may_take_a_subset_of_the_arguments() -> None:
    seen: list[object] = []

    class Partial:
        @hookimpl
        def supervm_observe_block(self, result: object) -> None:
            seen.append(result)

    kernel = Kernel.from_plugins(discover=False, extra=[("partial", Partial())], env={})
    kernel.plugins.manager.hook.supervm_observe_block(proposal=None, result="r")
    assert seen == ["r"]


# -- tracing -----------------------------------------------------------------------------------


def _traced(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "supervm.hooks"]


def test_trace_logs_hook_calls(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="supervm.hooks")
    kernel = Kernel.from_plugins(
        discover=False, extra=[("scheduler_serial", scheduler_serial)], env={}, trace=True
    )
    messages = _traced(caplog)
    assert any(m.strip().startswith("supervm_register_scheduler") for m in messages)
    assert any("registry:" in m for m in messages)
    assert any("finish supervm_register_scheduler" in m for m in messages)

    caplog.clear()
    kernel.plugins.manager.hook.supervm_observe_block(proposal="p", result="r")
    assert any("supervm_observe_block" in m for m in _traced(caplog))


def test_trace_from_environment(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="supervm.hooks")
    monkeypatch.setenv(ENV_TRACE, "1")
    Kernel.from_plugins(discover=False, extra=[("scheduler_serial", scheduler_serial)], env={})
    assert any("supervm_register_scheduler" in m for m in _traced(caplog))


def test_no_trace_by_default_or_when_disabled(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="supervm.hooks")
    extra = [("scheduler_serial", scheduler_serial)]
    monkeypatch.delenv(ENV_TRACE, raising=False)
    Kernel.from_plugins(discover=False, extra=extra, env={})
    monkeypatch.setenv(ENV_TRACE, "1")
    Kernel.from_plugins(discover=False, extra=extra, env={}, trace=False)
    assert _traced(caplog) == []
