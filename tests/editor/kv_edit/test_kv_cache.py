"""The KV store interface and the on-device store."""

from __future__ import annotations

import pytest
import torch

from editor.errors import InputError
from editor.kv_edit.kv_cache import KV_STORES, DeviceKVStore, KVStore, kv_cache_modes, make_kv_store
from editor.kv_edit.options import EditOptions


def test_device_store_returns_what_was_put_in_the_compute_dtype():
    store = make_kv_store("device", "cpu", torch.float32)
    assert isinstance(store, DeviceKVStore) and store.mode == "device"
    key, value = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4)
    store.put(3, 1, key.double(), value.double())
    got_key, got_value = store.get(3, 1)
    assert got_key.dtype == torch.float32
    torch.testing.assert_close(got_key, key)
    torch.testing.assert_close(got_value, value)
    assert store.has(3, 1) and not store.has(3, 0)
    assert store.steps() == [3]


def test_device_store_counts_bytes_and_clears():
    store = DeviceKVStore("cpu", torch.float32)
    for step in (4, 5):
        for layer in range(3):
            store.put(step, layer, torch.zeros(1, 2, 10, 8), torch.zeros(1, 2, 10, 8))
    assert store.nbytes == 2 * 3 * 2 * (2 * 10 * 8) * 4
    store.clear()
    assert store.nbytes == 0 and store.steps() == []
    with pytest.raises(KeyError):
        store.get(4, 0)


def test_unknown_mode_is_refused_with_the_known_modes():
    with pytest.raises(ValueError, match="device"):
        make_kv_store("floppy", "cpu", torch.float32)
    with pytest.raises(InputError, match="none"):
        EditOptions(kv_cache="floppy")


def test_every_mode_builds_a_store_that_names_its_mode_and_the_table_is_read_only():
    for mode in KV_STORES:
        store = make_kv_store(mode, "cpu", torch.float32)
        # fp8 is int8 where torch has no float8 on the device; every other store is what was asked.
        assert store.mode == mode or (mode, store.mode) == ("fp8", "int8")
        assert isinstance(store, KVStore) and store.nbytes == 0
    assert kv_cache_modes() == (*KV_STORES, "none")
    with pytest.raises(TypeError):
        KV_STORES["test-half"] = DeviceKVStore  # no registration at run time: one explicit table


def test_none_is_the_inversion_free_mode_not_a_store():
    assert "none" in kv_cache_modes() and "none" not in KV_STORES
    assert EditOptions(kv_cache="none").inversion_free
    with pytest.raises(ValueError, match="Unknown KV cache mode 'none'"):
        make_kv_store("none", "cpu", torch.float32)


def test_kv_store_base_cannot_be_used_without_an_implementation():
    with pytest.raises(TypeError):
        KVStore("cpu", torch.float32)
