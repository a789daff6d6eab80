import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from landcover_sdk import ClassScheme, ConfigError, LabelValueError
from landcover_sdk.config import get_scheme, infer_scheme


def test_tutorial_scheme_matches_published_colours() -> None:
    s = ClassScheme.tutorial()
    assert s.num_classes == 5
    assert s.names[1] == "water"
    assert s.colors.tolist() == [[0, 0, 0], [0, 0, 255], [0, 127, 0], [127, 255, 127], [127, 95, 95]]
    assert s.valid_classes == [1, 2, 3, 4]
    assert s.colormap[2] == (0, 127, 0, 255)


def test_tutorial_rule_values_above_4_become_4() -> None:
    s = ClassScheme.tutorial()
    out = s.remap(np.array([[0, 1, 2], [3, 4, 5], [6, 15, 255]], dtype=np.uint8))
    assert out.tolist() == [[0, 1, 2], [3, 4, 4], [4, 4, 4]]
    assert out.dtype == np.uint8


def test_chesapeake_grouping_maps_15_to_nodata() -> None:
    s = ClassScheme.chesapeake_grouped()
    codes = np.array([1, 2, 3, 4, 5, 6, 15], dtype=np.uint8)
    assert s.remap(codes).tolist() == [1, 2, 3, 4, 4, 4, 0]
    with pytest.raises(LabelValueError, match=r"labels.tif.*\b9\b"):
        s.remap(np.array([1, 9, 2], dtype=np.uint8), source="labels.tif")


def test_chesapeake_seven_class_scheme() -> None:
    s = ClassScheme.chesapeake()
    assert s.num_classes == 7
    assert s.remap(np.array([15, 6, 5, 1], dtype=np.uint16)).tolist() == [0, 6, 5, 1]


def test_grouping_that_leaves_a_code_unmapped_is_a_config_error() -> None:
    spec = ClassScheme.chesapeake_grouped().model_dump()
    del spec["grouping"][6]
    with pytest.raises(ConfigError, match=r"class_scheme.*unmapped.*6 \(impervious road\)"):
        get_scheme(spec)


def test_scheme_rejects_bad_definitions() -> None:
    base = ClassScheme.tutorial().model_dump()
    for change, pattern in [
        ({"classes": base["classes"][1:]}, "class ids must be 0"),
        ({"nodata_class": 9}, "nodata_class 9"),
        ({"grouping": {3: 7}}, "maps to 7"),
        ({"extra_key": 1}, "unknown key"),
    ]:
        with pytest.raises(ConfigError, match=pattern):
            get_scheme({**base, **change})
    with pytest.raises(ConfigError, match="unknown built-in scheme 'nope'"):
        get_scheme("nope")


def test_infer_scheme() -> None:
    assert infer_scheme({0: 1, 2: 5}, source="a").name == "tutorial"
    assert infer_scheme({2: 1, 15: 3, 6: 1}, source="a").name == "chesapeake-grouped"
    with pytest.raises(LabelValueError, match=r"a\.tif.*\b9\b"):
        infer_scheme({1: 1, 9: 2}, source="a.tif")


def test_float_labels_refused() -> None:
    with pytest.raises(LabelValueError, match="integers"):
        ClassScheme.tutorial().remap(np.zeros(3, dtype=np.float32))


@st.composite
def int_arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from([np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64])))
    info = np.iinfo(dtype)
    elements = st.integers(max(int(info.min), -3), min(int(info.max), 300))
    return draw(hnp.arrays(dtype, hnp.array_shapes(max_dims=2, max_side=16), elements=elements))


@settings(max_examples=150, deadline=None)
@given(arr=int_arrays())
def test_remap_equals_elementwise_mapping(arr: np.ndarray) -> None:
    for scheme in (ClassScheme.tutorial(), ClassScheme.chesapeake_grouped(), ClassScheme.chesapeake()):
        expected = [scheme.map_code(int(v)) for v in arr.ravel()]
        if any(e is None for e in expected):
            with pytest.raises(LabelValueError):
                scheme.remap(arr)
        else:
            assert scheme.remap(arr).ravel().tolist() == expected


@settings(max_examples=100, deadline=None)
@given(arr=hnp.arrays(np.uint8, hnp.array_shapes(max_dims=2, max_side=20)))
def test_remap_is_idempotent(arr: np.ndarray) -> None:
    s = ClassScheme.tutorial()
    once = s.remap(arr)
    assert np.array_equal(s.remap(once), once)
    assert once.max(initial=0) <= 4
