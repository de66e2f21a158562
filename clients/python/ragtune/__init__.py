"""Clients of `ragtune serve`: a small HTTP client and retrievers for LangChain
(`ragtune.langchain`) and LlamaIndex (`ragtune.llama_index`).

Standard library only; the framework modules import their framework when imported.
"""

from ragtune.client import Hit, RagtuneClient, RagtuneError

__all__ = ["Hit", "RagtuneClient", "RagtuneError"]
