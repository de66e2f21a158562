"""A LangChain retriever over `ragtune serve` (needs `langchain-core`)."""

from typing import List

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from ragtune.client import Hit, RagtuneClient


def _document(hit: Hit) -> Document:
    return Document(page_content=hit.text, metadata=hit.metadata())


class RagtuneRetriever(BaseRetriever):
    """The top `k` chunks of the setup ragtune serves at `url`, as LangChain documents."""

    url: str = "http://127.0.0.1:7878"
    k: int = 5
    timeout: float = 30.0

    def _client(self) -> RagtuneClient:
        return RagtuneClient(self.url, self.timeout)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> List[Document]:
        return [_document(h) for h in self._client().search(query, self.k)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> List[Document]:
        return [_document(h) for h in await self._client().asearch(query, self.k)]
