"""A LlamaIndex retriever over `ragtune serve` (needs `llama-index-core`)."""

from typing import List

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from ragtune.client import Hit, RagtuneClient


def _node(hit: Hit) -> NodeWithScore:
    node = TextNode(
        id_=f"{hit.config_id}:{hit.chunk}",
        text=hit.text,
        metadata=hit.metadata(),
    )
    return NodeWithScore(node=node, score=hit.score)


class RagtuneRetriever(BaseRetriever):
    """The top `k` chunks of the setup ragtune serves at `url`, as LlamaIndex nodes."""

    def __init__(self, url: str = "http://127.0.0.1:7878", k: int = 5, timeout: float = 30.0, **kwargs):
        self._ragtune = RagtuneClient(url, timeout)
        self._k = k
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> List[NodeWithScore]:
        return [_node(h) for h in self._ragtune.search(query_bundle.query_str, self._k)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> List[NodeWithScore]:
        hits = await self._ragtune.asearch(query_bundle.query_str, self._k)
        return [_node(h) for h in hits]
