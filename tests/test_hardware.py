"""llmcourse.device(): CUDA, then MPS, then CPU, with an environment override."""

import pytest
import torch

import llmcourse
from llmcourse import hardware


@pytest.fixture
def no_override(monkeypatch):
    monkeypatch.delenv(hardware.ENV_VAR, raising=False)


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_preference_order(monkeypatch, no_override, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(hardware, "_mps_available", lambda: mps)
    assert llmcourse.device() == torch.device(expected)


def test_override_wins(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(hardware.ENV_VAR, "cpu")
    assert llmcourse.device() == torch.device("cpu")
    monkeypatch.setenv(hardware.ENV_VAR, "cuda:1")
    assert llmcourse.device() == torch.device("cuda", 1)


def test_override_unavailable_device_fails_loudly(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "_mps_available", lambda: False)
    for requested in ("cuda", "mps"):
        monkeypatch.setenv(hardware.ENV_VAR, requested)
        with pytest.raises(RuntimeError, match="not available"):
            llmcourse.device()


def test_override_unknown_device(monkeypatch):
    monkeypatch.setenv(hardware.ENV_VAR, "tpu")
    with pytest.raises(ValueError, match="tpu"):
        llmcourse.device()


def test_real_machine_gives_a_usable_device(no_override):
    x = torch.ones(2, device=llmcourse.device())
    assert x.sum().item() == 2
