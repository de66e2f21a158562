"""The HTTP client: `POST /search` of a `ragtune serve` server."""

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Optional


class RagtuneError(RuntimeError):
    """The server refused the query or could not be reached; the message says why."""


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk, as `POST /search` returns it."""

    rank: int
    chunk: int
    doc_id: str
    start: int
    end: int
    text: str
    score: float
    config_id: str
    first_page: Optional[int] = None
    last_page: Optional[int] = None

    def metadata(self) -> Dict[str, Any]:
        """ragtune's metadata for a framework's document or node (pages only where known)."""
        meta = {
            "doc_id": self.doc_id,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "rank": self.rank,
            "chunk": self.chunk,
            "config_id": self.config_id,
        }
        if self.first_page is not None:
            meta["first_page"] = self.first_page
            meta["last_page"] = self.last_page
        return meta


class RagtuneClient:
    """Queries the setup a `ragtune serve` server serves."""

    def __init__(self, url: str = "http://127.0.0.1:7878", timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def search(self, query: str, k: int = 5) -> List[Hit]:
        """The top `k` chunks for `query`, best first."""
        body = json.dumps({"query": query, "k": k}).encode()
        req = urllib.request.Request(
            self.url + "/search", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                answer = json.load(r)
        except urllib.error.HTTPError as e:
            raise RagtuneError(f"{self.url}/search: {e.code}: {_error_text(e)}") from None
        except urllib.error.URLError as e:
            raise RagtuneError(f"{self.url}/search: {e.reason}") from None
        return [_hit(h, answer["config_id"]) for h in answer["results"]]

    async def asearch(self, query: str, k: int = 5) -> List[Hit]:
        """`search`, off the event loop."""
        return await asyncio.to_thread(self.search, query, k)


def _error_text(e: urllib.error.HTTPError) -> str:
    try:
        return json.load(e)["error"]
    except Exception:
        return e.reason


def _hit(h: Dict[str, Any], config_id: str) -> Hit:
    return Hit(
        rank=h["rank"],
        chunk=h["chunk"],
        doc_id=h["doc_id"],
        start=h["start"],
        end=h["end"],
        text=h["text"],
        score=h["score"],
        config_id=config_id,
        first_page=h.get("first_page"),
        last_page=h.get("last_page"),
    )
