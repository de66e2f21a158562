"""Chunk texts with LangChain's RecursiveCharacterTextSplitter, the independent
implementation ragtune's `recursive` chunker must equal.

Usage: langchain_chunks.py FILE SIZE OVERLAP  → JSON list of chunk texts on stdout.
Separators are Chroma's ("\\n\\n", "\\n", ".", "?", "!", " ", ""); lengths are characters.
"""
import json
import sys

from langchain_text_splitters import RecursiveCharacterTextSplitter


def main(path: str, size: str, overlap: str) -> None:
    text = open(path, encoding="utf-8").read()
    splitter = RecursiveCharacterTextSplitter(
        separators=["\n\n", "\n", ".", "?", "!", " ", ""],
        chunk_size=int(size),
        chunk_overlap=int(overlap),
        length_function=len,
        keep_separator=True,
        is_separator_regex=False,
        strip_whitespace=True,
    )
    json.dump(splitter.split_text(text), sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:])
