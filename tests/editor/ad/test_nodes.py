"""The typed node graph: reruns only on changed inputs, checks types, refuses unhashable inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from editor.ad.nodes import Graph, Node, NodeTypeError, Output, fingerprint


@dataclass(frozen=True)
class Doubled:
    values: np.ndarray


class Double(Node):
    name = "double"
    inputs = {"values": np.ndarray, "note": str}
    output = Doubled

    def compute(self, values, note):
        return Doubled(values * 2)


class Total(Node):
    name = "total"
    inputs = {"doubled": Doubled, "offset": int}
    output = int

    def compute(self, doubled, offset):
        return int(doubled.values.sum()) + offset


class WrongOutput(Node):
    name = "wrong"
    inputs = {"x": int}
    output = str

    def compute(self, x):
        return x


def test_downstream_node_reruns_alone_when_only_its_own_input_changes():
    g = Graph()
    a = np.arange(4)
    d = g.run(Double(), values=a, note="x")
    assert g.run(Total(), doubled=d, offset=1).value == 13
    d2 = g.run(Double(), values=a.copy(), note="x")  # equal content: cached
    assert d2 is d
    assert g.run(Total(), doubled=d2, offset=5).value == 17
    assert g.runs == {"double": 1, "total": 2}
    d3 = g.run(Double(), values=a + 1, note="x")  # changed content: reruns, and so does its consumer
    assert g.run(Total(), doubled=d3, offset=5).value == 25
    assert g.runs == {"double": 2, "total": 3}


def test_slots_keep_separate_results():
    g = Graph()
    g.run(Double(), "square", values=np.ones(2), note="")
    g.run(Double(), "story", values=np.zeros(2), note="")
    g.run(Double(), "square", values=np.ones(2), note="")
    assert g.runs["double"] == 2 and g.events[-1] == ("double[square]", "cached")


def test_input_and_output_types_are_checked():
    g = Graph()
    with pytest.raises(NodeTypeError, match="values"):
        g.run(Double(), values=[1, 2], note="x")
    with pytest.raises(NodeTypeError, match="takes inputs"):
        g.run(Double(), values=np.ones(2))
    with pytest.raises(NodeTypeError, match="must return"):
        g.run(WrongOutput(), x=1)


def test_inputs_that_cannot_be_fingerprinted_are_refused_not_guessed():
    with pytest.raises(TypeError, match="cannot fingerprint"):
        fingerprint(object())
    assert fingerprint(np.zeros((2, 2), np.uint8)) != fingerprint(np.zeros((4,), np.uint8))
    assert fingerprint({"a": 1, "b": (2, 3)}) == fingerprint({"b": (2, 3), "a": 1})
    assert fingerprint(Output(1, "abc", "n")) != fingerprint(Output(1, "abd", "n"))


def test_a_node_whose_cached_result_went_stale_reruns(tmp_path):
    class Write(Node):
        name = "write"
        inputs = {"path": str}
        output = str

        def compute(self, path):
            open(path, "w").write("x")
            return path

        def still_valid(self, value):
            import os

            return os.path.exists(value)

    g = Graph()
    target = str(tmp_path / "f.txt")
    g.run(Write(), path=target)
    g.run(Write(), path=target)
    (tmp_path / "f.txt").unlink()
    g.run(Write(), path=target)
    assert g.runs["write"] == 2 and (tmp_path / "f.txt").exists()
