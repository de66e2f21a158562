"""The Python retrievers (clients/python) against a real `ragtune serve`: for each of the
first 50 quickstart questions, LangChain's and LlamaIndex's retrievers, sync and async,
must return exactly what `POST /search` returns (same chunks, order, text, scores and
metadata). Prints a JSON summary; exits non-zero on the first difference.

usage: retrievers.py URL QUESTIONS_JSONL K
"""

import asyncio
import json
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients/python"))

from ragtune import RagtuneClient, RagtuneError  # noqa: E402
from ragtune.langchain import RagtuneRetriever as LangChainRetriever  # noqa: E402
from ragtune.llama_index import RagtuneRetriever as LlamaIndexRetriever  # noqa: E402

N = 50


def direct(url, query, k):
    req = urllib.request.Request(
        url + "/search",
        data=json.dumps({"query": query, "k": k}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        answer = json.load(r)
    return [
        {
            "text": h["text"],
            "doc_id": h["doc_id"],
            "start": h["start"],
            "end": h["end"],
            "score": h["score"],
            "rank": h["rank"],
            "chunk": h["chunk"],
            "config_id": answer["config_id"],
            **({"first_page": h["first_page"], "last_page": h["last_page"]} if "first_page" in h else {}),
        }
        for h in answer["results"]
    ]


def from_langchain(docs):
    return [{"text": d.page_content, **d.metadata} for d in docs]


def from_llama(nodes):
    out = []
    for n in nodes:
        assert n.score == n.node.metadata["score"], "the node's score is ragtune's"
        out.append({"text": n.node.get_content(), **n.node.metadata})
    return out


async def both_async(lc, li, query):
    return await lc.ainvoke(query), await li.aretrieve(query)


def main():
    url, questions, k = sys.argv[1].rstrip("/"), sys.argv[2], int(sys.argv[3])
    lc = LangChainRetriever(url=url, k=k)
    li = LlamaIndexRetriever(url=url, k=k)
    qs = [json.loads(l)["question"] for l in open(questions)][:N]
    compared = 0
    for q in qs:
        want = direct(url, q, k)
        got = {
            "langchain": from_langchain(lc.invoke(q)),
            "llama_index": from_llama(li.retrieve(q)),
        }
        a_lc, a_li = asyncio.run(both_async(lc, li, q))
        got["langchain async"] = from_langchain(a_lc)
        got["llama_index async"] = from_llama(a_li)
        for name, hits in got.items():
            if hits != want:
                sys.exit(f"{name} differs from POST /search for {q!r}:\n{hits}\n{want}")
        compared += len(want)
    try:
        RagtuneClient(url).search("", k)
        sys.exit("an empty query was accepted")
    except RagtuneError as e:
        refused = str(e)
    print(json.dumps({"questions": len(qs), "hits_compared": compared, "refused": refused}))


if __name__ == "__main__":
    main()
