"""Reading `provider_response`, where orq puts what a non-chat deployment produced (docs/orq-api.md, Deployment types).

The SDK's invoke response types text, tool calls and images only; `provider_response` is "the response
returned by the model provider", of any shape. We read it in the shapes of orq's own router responses,
which are also the providers' (orq-ai-sdk 4.17 models): embeddings `data[].embedding`
(`CreateEmbeddingResponseBody`), transcripts `text` (`CreateTranscriptionResponseBody`, or a bare string),
OCR `pages[].markdown` (`PostV2RouterOcrResponseBody`), rerank `results[].relevance_score`
(`CreateRerankResponseBody`), moderation `results[].category_scores` (`CreateModerationResponseBody`),
classification `answers{}` (`CreateClassifyResponseBody`) or a `[{label, score}]` list; speech as a
`data:audio/...` URI or, for a tts deployment, a link or `{audio|data|url, format?}`. Which of these orq
really sends is unverified; what matches none is returned raw by the caller, never dropped.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
import struct
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^;,]*)*?);base64,(?P<data>.*)", re.S)
_AUDIO_MIME = {"mp3": "audio/mpeg", "wav": "audio/wav", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac"}
_AUDIO_KEYS = ("url", "audio", "data", "b64_json")


@dataclass(frozen=True)
class Media:
    """Generated media: a link the client may open (never fetched here), or base64 `data` with its MIME type."""

    url: str | None = None
    data: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class Embedding:
    index: int
    vector: list[float] | None = None  # floats, or
    base64: str | None = None  # the packed vector when the deployment asks for encoding_format=base64

    @property
    def dimensions(self) -> int | None:
        return len(self.vector) if self.vector is not None else None


@dataclass(frozen=True)
class Scored:
    """A ranked document (`index` into the documents sent, its text if returned) or a label, with its score."""

    label: str
    score: float | None = None
    index: int | None = None
    flagged: bool | None = None


@dataclass
class ProviderAnswer:
    text: str = ""  # a transcript or OCR'd pages
    audio: list[Media] = field(default_factory=list)
    embeddings: list[Embedding] = field(default_factory=list)
    ranking: list[Scored] = field(default_factory=list)
    labels: list[Scored] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.text or self.audio or self.embeddings or self.ranking or self.labels)


def read_provider_answer(value: Any, model_type: str | None = None) -> ProviderAnswer:
    """What `value` (a `provider_response`) holds in a shape we know; empty when it holds none."""
    answer = ProviderAnswer(embeddings=embeddings(value))
    audio = _audio(value, trust_links=model_type == "tts")
    if audio is not None:
        answer.audio.append(audio)
    if isinstance(value, str) and model_type == "stt":
        answer.text = value  # the router's plain-text transcription format
    if isinstance(value, list):
        answer.labels = _label_list(value)
    if not isinstance(value, dict):
        return answer
    results = value.get("results")
    if isinstance(results, list):
        answer.ranking = _ranking(results)
        answer.labels = _moderation(results)
    answer.labels += _answers(value.get("answers"))
    answer.text = _pages(value.get("pages")) or (value["text"] if isinstance(value.get("text"), str) else "")
    return answer


def embeddings(value: Any) -> list[Embedding]:
    items = value.get("data") if isinstance(value, dict) else None
    if not isinstance(items, list):
        return []
    found = []
    for position, item in enumerate(items):
        if not isinstance(item, dict) or "embedding" not in item:
            continue
        index = given if isinstance(given := item.get("index"), int) else position
        vector = item["embedding"]
        if isinstance(vector, str):
            found.append(Embedding(index, vector=_unpacked(vector), base64=vector))
        elif isinstance(vector, list) and all(isinstance(x, int | float) for x in vector):
            found.append(Embedding(index, vector=[float(x) for x in vector]))
    return found


def _unpacked(packed: str) -> list[float] | None:
    """A base64 vector as floats: little-endian float32, as OpenAI packs `encoding_format: base64` [INFER]."""
    try:
        raw = base64.b64decode(packed, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) % 4:
        return None
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def media_of(url: str) -> Media:
    """A `url` field's media: inline when it is a base64 `data:` URI, else a link."""
    inline = _DATA_URI.fullmatch(url)
    if inline is None:
        return Media(url=url)
    return Media(data=inline.group("data"), mime_type=inline.group("mime") or "application/octet-stream")


def _audio(value: Any, *, trust_links: bool) -> Media | None:
    """Speech: a `data:audio/...` URI anywhere we look; links and bare base64 only from a tts deployment."""
    if isinstance(value, str):
        media = media_of(value)
        if media.data is not None:
            return media if (media.mime_type or "").startswith("audio/") else None
        if not (trust_links and value.startswith(("https://", "http://"))):
            return None
        return Media(url=value, mime_type=mimetypes.guess_type(urlsplit(value).path)[0])
    if not isinstance(value, dict):
        return None
    for key in _AUDIO_KEYS:
        inner = value.get(key)
        found = _audio(inner, trust_links=trust_links) if isinstance(inner, str | dict) else None
        if found is None and trust_links and key != "url" and isinstance(inner, str) and _is_base64(inner):
            found = Media(data=inner, mime_type=_AUDIO_MIME.get(str(value.get("format")), "audio/mpeg"))
        if found is not None:
            return found
    return None


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return bool(text)


def _ranking(results: list[Any]) -> list[Scored]:
    ranked = []
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("relevance_score"), int | float):
            continue
        index = result.get("index")
        index = int(index) if isinstance(index, int | float) else None
        document = result.get("document")
        text = document.get("text") if isinstance(document, dict) else document
        label = text if isinstance(text, str) else f"document {index}"
        ranked.append(Scored(label, float(result["relevance_score"]), index))
    return sorted(ranked, key=lambda item: item.score or 0.0, reverse=True)


def _moderation(results: list[Any]) -> list[Scored]:
    scored = [r for r in results if isinstance(r, dict) and isinstance(r.get("category_scores"), dict)]
    labels = []
    for number, result in enumerate(scored):
        flags = given if isinstance(given := result.get("categories"), dict) else {}
        prefix = f"{number}: " if len(scored) > 1 else ""  # several inputs: say which one
        for name, score in result["category_scores"].items():
            if isinstance(score, int | float):
                flagged = flags.get(name) if isinstance(flags.get(name), bool) else None
                labels.append(Scored(prefix + name, float(score), flagged=flagged))
    return sorted(labels, key=lambda item: item.score or 0.0, reverse=True)


def _answers(answers: Any) -> list[Scored]:
    """Classification: the router's `answers` (choice answers: each label's probability, else the choice and its
    confidence; score answers: the score), or a plain `[{label, score}]` list."""
    if isinstance(answers, list):
        return _label_list(answers)
    if not isinstance(answers, dict):
        return []
    labels: list[Scored] = []
    for question, answer in answers.items():
        if not isinstance(answer, dict):
            continue
        prefix = f"{question}: " if len(answers) > 1 else ""
        probabilities = answer.get("probabilities")
        if isinstance(probabilities, dict) and probabilities:
            ranked = [Scored(prefix + str(k), float(v)) for k, v in probabilities.items() if isinstance(v, int | float)]
            labels += sorted(ranked, key=lambda item: item.score or 0.0, reverse=True)
        elif isinstance(answer.get("choice"), str):
            confidence = answer.get("confidence")
            labels.append(Scored(prefix + answer["choice"], confidence if isinstance(confidence, float) else None))
        elif isinstance(answer.get("score"), int | float):
            labels.append(Scored(str(question), float(answer["score"])))
    return labels


def _label_list(items: list[Any]) -> list[Scored]:
    labels = [
        Scored(item["label"], float(item["score"]) if isinstance(item.get("score"), int | float) else None)
        for item in items
        if isinstance(item, dict) and isinstance(item.get("label"), str)
    ]
    return sorted(labels, key=lambda item: item.score or 0.0, reverse=True)


def _pages(pages: Any) -> str:
    if not isinstance(pages, list):
        return ""
    texts = [page["markdown"] for page in pages if isinstance(page, dict) and isinstance(page.get("markdown"), str)]
    return "\n\n---\n\n".join(texts)
