"""The evaluator's Porter stemmer, loaded without `import nltk`: the same stems as NLTK's
PorterStemmer on every word tried, and nltk (with what its __init__ drags in) never loaded by
scoring."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mmkp.data.synthetic_topics import DOMAINS, GENERIC_SENTENCES
from mmkp.evaluation.porter import porter_stemmer_class

# Words that take each step of the NLTK_EXTENSIONS rules, its irregular forms and its
# special cases (short words, "y" after a consonant, doubled consonants, -ly, -ing, -ed).
WORDS = (
    "caresses ponies ties caress cats feed agreed plastered bled motoring sing conflated "
    "troubled sized hopping tanned falling hissing fizzed failing filing happy sky relational "
    "conditional rational valenci hesitanci digitizer conformabli radicalli differentli vileli "
    "analogousli vietnamization predication operator feudalism decisiveness hopefulness "
    "callousness formaliti sensitiviti sensibiliti triplicate formative formalize electriciti "
    "electrical hopeful goodness revival allowance inference airliner gyroscopic adjustable "
    "defensible irritant replacement adjustment dependent adoption homologou communism activate "
    "angulariti homologous effective bowdlerize probate rate cease controll roll dying lying "
    "tying news innings outings cannings howe proceed exceed succeed skies generously generous "
    "ow ugly early only singly sky ski dies died agreed feeding a an is at by go running ran "
    "runs runner kca oscars thrones"
)

SCRIPT = """
import json, sys
from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.phrase_match import stem_token
words = json.loads(sys.stdin.read())
ours = [stem_token(word) for word in words]
loaded = "nltk" in sys.modules
from nltk.stem.porter import PorterStemmer
theirs = [PorterStemmer().stem(word.lower()) for word in words]
print(json.dumps({"loaded": loaded, "ours": ours, "theirs": theirs}))
"""


def test_the_stems_are_nltks_and_nltk_is_never_imported():
    texts = [*GENERIC_SENTENCES]
    for domain in DOMAINS:
        texts += [*domain.context, *domain.text_keyphrases, *domain.image_keyphrases]
    generated = {word for text in texts for word in text.split() if word.isalpha()}
    words = sorted(set(WORDS.split()) | generated | {word.upper() for word in WORDS.split()[:20]})
    assert len(words) > 300
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=json.dumps(words),
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(result.stdout)
    assert not out["loaded"]
    differ = [
        (w, a, b) for w, a, b in zip(words, out["ours"], out["theirs"], strict=True) if a != b
    ]
    assert differ == []
    assert out["ours"][words.index("generously")] == "gener"  # an NLTK_EXTENSIONS stem


def test_once_nltk_is_loaded_its_own_class_is_used():
    nltk_porter = pytest.importorskip("nltk.stem.porter")
    assert porter_stemmer_class() is nltk_porter.PorterStemmer
