"""How big a GraphQL operation may be: enforced by the schema, used by the rate limiter too;
and the process's cache of parsed operations (``DOCUMENTS``), which both read."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field

from graphql import DocumentNode, GraphQLError, parse
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 15
#: The estimated cost an operation may reach (``schema/cost.py``; ``ADX_GRAPHQL_MAX_COST``).
DEFAULT_MAX_COST = 10_000
#: Characters of operation text the document cache holds in all. A 4 KB operation of 2,000
#: tokens parses into ~1.1 MB of nodes, so this bounds the cache at ~35 MB whatever clients
#: send (a few hundred typical operations fit); unique texts only evict older ones.
DOCUMENT_CACHE_CHARS = 128 * 1024


@dataclass
class _Entry:
    document: DocumentNode
    #: Validation errors of this document per (schema, rule set).
    errors: dict[Hashable, tuple[GraphQLError, ...]] = field(default_factory=dict)


class DocumentCache:
    """Operations parsed once per process (at ``MAX_TOKENS``), with their validation errors:
    a frontend sends the same few texts again and again, and parsing plus validating one cost
    more CPU than the rest of a small query (bench/gateway_bench.py). Least recently used out
    first, at most ``budget`` characters of text in all; a text that does not parse is not
    kept (its error is raised each time)."""

    def __init__(self, budget: int = DOCUMENT_CACHE_CHARS) -> None:
        self.budget = budget
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._chars = 0
        #: Lookups answered from the cache and parsed anew (``adx_graphql_document_cache_*``).
        self.hits = 0
        self.misses = 0

    def document(self, query: str) -> DocumentNode:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
            self.hits += 1
            return entry.document
        self.misses += 1
        document = parse(query, max_tokens=MAX_TOKENS)
        if len(query) <= self.budget:
            self._entries[query] = _Entry(document)
            self._chars += len(query)
            while self._chars > self.budget:
                evicted, _ = self._entries.popitem(last=False)
                self._chars -= len(evicted)
        return document

    def errors(
        self,
        query: str,
        document: DocumentNode,
        key: Hashable,
        validate: Callable[[], list[GraphQLError]],
    ) -> list[GraphQLError]:
        """``validate()``'s errors for ``document`` (parsed from ``query`` by this cache), kept
        per ``key`` (the schema and its rules); any other document is validated each time."""
        entry = self._entries.get(query)
        if entry is None or entry.document is not document:
            return validate()
        errors = entry.errors.get(key)
        if errors is None:
            errors = entry.errors[key] = tuple(validate())
        return list(errors)

    def clear(self) -> None:
        self._entries.clear()
        self._chars = 0


#: The gateway process's parsed operations (``schema/extensions.py`` ``CachedDocuments``, the
#: rate limiter's operation cost, the subscription lease check).
DOCUMENTS = DocumentCache()


class DocumentCacheMetrics(Collector):
    """The parsed-operation cache's hits, misses and size on the gateway's ``/metrics``."""

    def __init__(self, cache: DocumentCache = DOCUMENTS) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily(
            "adx_graphql_document_cache_lookups",
            "Parsed-operation cache lookups by result (hit, miss).",
            labels=["result"],
        )
        lookups.add_metric(["hit"], self.cache.hits)
        lookups.add_metric(["miss"], self.cache.misses)
        size = GaugeMetricFamily(
            "adx_graphql_document_cache_chars", "Characters of operation text cached."
        )
        size.add_metric([], self.cache._chars)
        yield from (lookups, size)
