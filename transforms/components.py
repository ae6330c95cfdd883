"""Connected components of a graph given as edges, each node labelled with its component's
smallest node: a few alternating large-star and small-star rounds (Kiveris et al., "Connected
Components in MapReduce and Beyond", SoCC 2014), then one union-find over what they left unfinished.

Each round is two keyed groupings over the edges, never over all nodes of the data set, and the
edges never outnumber the input's; it turns most components into stars (every other node linked
to the smallest). A Beam graph cannot loop until done, and each grouping is a stage the runner
pays for whatever the data, so the rounds are few and fixed. After them, a node that is neither a
star's centre (only larger neighbours) nor a star's leaf (one neighbour, smaller) sends its edges
to one union-find (a global combine), whose labels reach every node as a side input. That
union-find holds only the unfinished remainder, which the rounds shrink (counted in the
`unfinished_nodes` metric), and the labels are exact whatever the round count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

Node = Any  # orderable and hashable, with a string `key`
UNFINISHED = "unfinished"


class ConnectedComponents(beam.PTransform):
    """(node, node) edges to (node key, smallest node of its component) for every node in them."""

    def __init__(self, rounds: int, namespace: str):
        super().__init__()
        self.rounds = rounds
        self.namespace = namespace

    def expand(self, edges):
        keyed = edges | "Directed" >> beam.FlatMap(lambda edge: by_both_nodes((max(edge), min(edge))))
        for number in range(self.rounds):
            keyed = (
                keyed
                | f"LargeStar{number}" >> StarStep(large_star)
                | f"SmallStar{number}" >> StarStep(small_star)
            )
        nodes = (
            keyed
            | "GroupByNode" >> beam.GroupByKey()
            | "StarOrNot" >> beam.ParDo(StarOrNot(self.namespace)).with_outputs(UNFINISHED, main="nodes")
        )
        finished = nodes[UNFINISHED] | "UnionFind" >> beam.CombineGlobally(UnionFind())
        return nodes.nodes | "Label" >> beam.Map(label, beam.pvalue.AsSingleton(finished))


class StarStep(beam.PTransform):
    """One star operation: each node with its neighbours, to the edges the operation emits, each
    keyed by both its nodes for the next step. One ParDo a step, not two: building a ParDo costs
    the driver about 3.5 ms of Beam's checks."""

    def __init__(self, operation):
        super().__init__()
        self.operation = operation

    def expand(self, keyed_edges):
        return (
            keyed_edges
            | "Neighbours" >> beam.GroupByKey()
            | "Emit" >> beam.FlatMap(lambda grouped: [
                keyed for edge in self.operation(*own_and_neighbours(grouped[1])) for keyed in by_both_nodes(edge)])
        )


def by_both_nodes(edge: tuple[Node, Node]) -> list[tuple[str, tuple[Node, Node]]]:
    """The (larger, smaller) edge keyed by each of its nodes, that node first."""
    larger, smaller = edge
    return [(larger.key, (larger, smaller)), (smaller.key, (smaller, larger))]


def own_and_neighbours(pairs: Iterable[tuple[Node, Node]]) -> tuple[Node, set[Node]]:
    node, neighbours = None, set()
    for node, neighbour in pairs:
        neighbours.add(neighbour)
    return node, neighbours


def large_star(node: Node, neighbours: set[Node]) -> Iterator[tuple[Node, Node]]:
    """Every larger neighbour is linked to the smallest node of the neighbourhood."""
    smallest = min(min(neighbours), node)
    for neighbour in neighbours:
        if neighbour > node:
            yield neighbour, smallest


def small_star(node: Node, neighbours: set[Node]) -> Iterator[tuple[Node, Node]]:
    """The node and its smaller neighbours are linked to the smallest of them."""
    smaller = [n for n in neighbours if n < node] + [node]
    smallest = min(smaller)
    for member in smaller:
        if member != smallest:
            yield member, smallest


class StarOrNot(beam.DoFn):
    """A node with its neighbours to (its key, its star's centre). A star's centre has only larger
    neighbours and is its own centre; a leaf has one neighbour, smaller: its centre. Any other node
    is not finished: its edges go to the union-find, whose label for it replaces the node itself,
    and for every centre next to it the centre's."""

    def __init__(self, namespace: str):
        self.unfinished = Metrics.counter(namespace, "unfinished_nodes")

    def process(self, grouped: tuple[str, Iterable[tuple[Node, Node]]]) -> Iterator:
        key, pairs = grouped
        node, neighbours = own_and_neighbours(pairs)
        smaller = [neighbour for neighbour in neighbours if neighbour < node]
        if not smaller:
            yield key, node
        elif len(neighbours) == 1:
            yield key, smaller[0]
        else:
            self.unfinished.inc()
            for neighbour in neighbours:
                yield beam.pvalue.TaggedOutput(UNFINISHED, (node, neighbour))
            yield key, node


def label(node_and_centre: tuple[str, Node], finished: dict[str, Node]) -> tuple[str, Node]:
    """(node key, its label): the union-find's label for its centre, else the centre itself."""
    key, centre = node_and_centre
    return key, finished.get(centre.key, centre)


class UnionFind(beam.CombineFn):
    """Edges to {node key: smallest node of its component}. The accumulator is a forest, each
    node's parent smaller than it, so partial results merge without holding their edges."""

    def create_accumulator(self) -> dict[Node, Node]:
        return {}

    def add_input(self, parents: dict[Node, Node], edge: tuple[Node, Node]) -> dict[Node, Node]:
        union(parents, *edge)
        return parents

    def merge_accumulators(self, accumulators: Iterable[dict[Node, Node]]) -> dict[Node, Node]:
        accumulators = iter(accumulators)
        merged = next(accumulators)
        for parents in accumulators:
            for node, parent in parents.items():
                union(merged, node, parent)
        return merged

    def extract_output(self, parents: dict[Node, Node]) -> dict[str, Node]:
        return {node.key: root(parents, node) for node in parents}


def root(parents: dict[Node, Node], node: Node) -> Node:
    """The node's root, with the path to it compressed."""
    top = node
    while parents.get(top, top) != top:
        top = parents[top]
    while node != top:
        parents[node], node = top, parents[node]
    return top


def union(parents: dict[Node, Node], first: Node, second: Node) -> None:
    first, second = root(parents, first), root(parents, second)
    parents.setdefault(first, first)
    parents.setdefault(second, second)
    if first != second:
        parents[max(first, second)] = min(first, second)
