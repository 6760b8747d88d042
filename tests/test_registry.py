"""The generic Registry: lookup, suggestions, kwarg checks, duplicates, entry-point plugins."""

from __future__ import annotations

import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import autoencoders
from autoencoders import registry as reg_mod
from autoencoders.registry import (
    DuplicateNameError,
    PluginWarning,
    Registry,
    UnknownArgumentError,
    UnknownNameError,
    load_plugins,
)


@pytest.fixture
def widgets() -> Registry:
    r: Registry = Registry("widget")

    @r.register("square", aliases=("sq",))
    def square(side: int = 2, *, scale: float = 1.0) -> float:
        return side * side * scale

    @r.register
    class Circle:
        def __init__(self, radius: float = 1.0) -> None:
            self.radius = radius

    return r


def test_build_by_name_alias_case_and_dash(widgets: Registry) -> None:
    assert widgets.build("square", side=3) == 9
    assert widgets.build("SQ", side=4) == 16
    assert widgets.build("Circle", radius=2.0).radius == 2.0
    assert widgets.names() == ["circle", "square"]
    assert "sq" in widgets and "nope" not in widgets and 3 not in widgets
    assert len(widgets) == 2


def test_unknown_name_suggests_close_match(widgets: Registry) -> None:
    with pytest.raises(UnknownNameError) as exc:
        widgets.get("sqare")
    msg = str(exc.value)
    assert "unknown widget 'sqare'" in msg
    assert "did you mean 'square'?" in msg
    assert "circle, square" in msg
    # it is a ValueError (and a KeyError, for dict-like callers)
    assert isinstance(exc.value, ValueError)
    assert isinstance(exc.value, KeyError)


def test_unknown_name_without_close_match_lists_names(widgets: Registry) -> None:
    with pytest.raises(UnknownNameError, match="Registered widgets: circle, square") as exc:
        widgets.get("zzzzzz")
    assert "did you mean" not in str(exc.value)
    # the name ends its sentence before the list starts
    assert "unknown widget 'zzzzzz'. Registered widgets:" in str(exc.value)


def test_vea_suggests_vae() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'vae'"):
        autoencoders.build("vea")


def test_misspelt_kwarg_named_with_accepted_and_close_match(widgets: Registry) -> None:
    with pytest.raises(UnknownArgumentError) as exc:
        widgets.build("square", sidee=3)
    msg = str(exc.value)
    assert "'sidee'" in msg and "did you mean 'side'?" in msg and "Accepted: side, scale" in msg
    assert isinstance(exc.value, TypeError)


def test_misspelt_model_kwarg() -> None:
    with pytest.raises(UnknownArgumentError, match=r"'hiden'.*did you mean 'hidden'"):
        autoencoders.build("vae", hiden=(400, 100))
    with pytest.raises(UnknownArgumentError, match="did you mean 'noise_factor'"):
        autoencoders.build("ae", noise="gaussian", noise_facter=0.2)


def test_duplicates_refused_unless_override(widgets: Registry) -> None:
    with pytest.raises(DuplicateNameError, match="'square' is already registered"):
        widgets.register("square")(lambda: 0)
    with pytest.raises(DuplicateNameError, match="'sq' is already registered"):
        widgets.register("other", aliases=("sq",))(lambda: 0)
    widgets.register("square", override=True)(lambda: "new")
    assert widgets.build("square") == "new"


def test_register_rejects_non_callables(widgets: Registry) -> None:
    with pytest.raises(TypeError, match="only register callables"):
        widgets.register("x")(42)  # type: ignore[arg-type]


def test_unregister(widgets: Registry) -> None:
    widgets.unregister("sq")
    assert "square" not in widgets and "sq" not in widgets


def test_register_rejects_names_that_are_not_strings(widgets: Registry) -> None:
    with pytest.raises(TypeError, match="widget name must be a non-empty str, got int 3"):
        widgets.register(3)(lambda: 0)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="widget alias must be a non-empty str, got NoneType"):
        widgets.register("other", aliases=(None,))(lambda: 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got the string 'tri'; write aliases=\('tri',\)"):
        widgets.register("triangle", aliases="tri")  # type: ignore[arg-type]
    assert widgets.names() == ["circle", "square"]  # nothing half-registered


def test_names_pattern(widgets: Registry) -> None:
    assert widgets.names("sq*") == ["square"]
    assert widgets.names("SQ*") == ["square"]
    assert autoencoders.list_models("*vae") == ["beta_vae", "conv_vae", "cvae", "vae", "vq_vae"]
    assert autoencoders.list_models("Conv-*") == ["conv_ae", "conv_dae", "conv_vae"]
    assert autoencoders.list_models(None) == autoencoders.list_models()


@pytest.mark.parametrize("pattern", [3, b"vae", ["vae"]])
def test_names_pattern_must_be_a_string(widgets: Registry, pattern: object) -> None:
    match = rf"pattern must be a str .* or None, got {type(pattern).__name__} "
    with pytest.raises(TypeError, match=match):
        widgets.names(pattern)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=match):
        autoencoders.list_models(pattern)  # type: ignore[arg-type]


def test_builtin_registries_are_populated() -> None:
    assert {"mlp", "conv"} <= set(autoencoders.encoders.names())
    assert {"mlp", "conv"} <= set(autoencoders.decoders.names())
    assert {"deterministic", "gaussian"} <= set(autoencoders.bottlenecks.names())
    assert {"gaussian", "masking", "salt_and_pepper"} <= set(autoencoders.noise_registry.names())
    assert {"bce", "mse", "kl", "elbo", "reconstruction"} <= set(autoencoders.loss_registry.names())
    assert {"ae", "linear_ae", "vae", "conv_ae", "conv_dae", "small_conv_ae", "conv_vae"} <= set(
        autoencoders.list_models()
    )


# -- entry-point plugins -----------------------------------------------------------------------
def _fake_distribution(tmp_path: Path, dist: str, module: str, body: str, ep_value: str) -> None:
    """Write an importable module and an installed-distribution record with an entry point."""
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(body))
    info = tmp_path / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[autoencoders.plugins]\n{module} = {ep_value}\n")


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(reg_mod, "_plugins_loaded", False)
    yield tmp_path
    reg_mod._plugins_loaded = False  # let later lookups rescan without the fake distribution


def test_plugin_module_discovered_lazily(plugin_path: Path) -> None:
    _fake_distribution(
        plugin_path,
        "fake-ae-plugin",
        "fake_ae_plugin",
        """
        import torch
        import autoencoders

        @autoencoders.register_encoder("plugin_flat")
        class PluginFlat(autoencoders.Encoder):
            def __init__(self, input_shape=(1, 28, 28)):
                super().__init__()
                self.input_shape = tuple(input_shape)
                self.out_features = 784
            def forward(self, x):
                return x.flatten(1)
        """,
        "fake_ae_plugin",
    )
    assert "fake_ae_plugin" not in sys.modules  # nothing imported it yet
    try:
        # a missing name triggers the plugin scan, which registers the encoder
        enc = autoencoders.encoders.build("plugin_flat", input_shape=[1, 28, 28])
        assert enc.out_features == 784
        assert "fake_ae_plugin" in sys.modules
    finally:
        if "plugin_flat" in autoencoders.encoders.names(load=False):
            autoencoders.encoders.unregister("plugin_flat")
        sys.modules.pop("fake_ae_plugin", None)


def test_plugin_function_is_called(plugin_path: Path) -> None:
    _fake_distribution(
        plugin_path,
        "fake-fn-plugin",
        "fake_fn_plugin",
        """
        import autoencoders

        def register():
            @autoencoders.register_model("plugin_model")
            def plugin_model(z: int = 3):
                return autoencoders.build("vae", h=16, z=z)
        """,
        "fake_fn_plugin:register",
    )
    try:
        assert "plugin_model" in autoencoders.list_models()
        assert autoencoders.build("plugin_model", z=5).z_dim == 5
    finally:
        if "plugin_model" in autoencoders.models.names(load=False):
            autoencoders.models.unregister("plugin_model")
        sys.modules.pop("fake_fn_plugin", None)


def test_broken_plugin_is_a_warning_naming_its_distribution(plugin_path: Path) -> None:
    _fake_distribution(
        plugin_path, "broken-dist", "broken_plugin", "raise RuntimeError('boom')\n", "broken_plugin"
    )
    with pytest.warns(PluginWarning, match=r"broken-dist.*RuntimeError: boom"):
        loaded = load_plugins(force=True)
    assert "broken_plugin" not in loaded
    sys.modules.pop("broken_plugin", None)


def test_plugins_load_once(plugin_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        load_plugins()
    assert load_plugins() == []  # second call is a no-op
