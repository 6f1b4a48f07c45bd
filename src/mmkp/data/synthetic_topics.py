"""The generated data's catalogue: domains, their keyphrases, and the sentences posts are made of.

Each domain has context sentences (they reveal the domain, never a keyphrase), two keyphrases
that are written in the post text, four that are only rendered as text in the image and two
that are only shown as a visual object (drawn with Pillow, or a sample photo). docs/synthetic.md
explains how posts are composed from these parts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class VisualTopic:
    """A keyphrase shown only as visual content: `obj` names a drawing or a sample photo."""

    keyphrase: str
    obj: str


@dataclass(frozen=True)
class Domain:
    """One coarse subject: the text says which domain a post is about, the image says more."""

    name: str
    context: tuple[str, ...]
    text_keyphrases: tuple[str, ...]
    ocr_keyphrases: tuple[str, ...]
    visual: tuple[VisualTopic, ...]

    @property
    def image_keyphrases(self) -> tuple[str, ...]:
        """Keyphrases an image of this domain can carry (OCR ones first, then visual ones)."""
        return self.ocr_keyphrases + tuple(topic.keyphrase for topic in self.visual)


DOMAINS: tuple[Domain, ...] = (
    Domain(
        name="food",
        context=(
            "just made dinner for the whole family",
            "this place downtown never disappoints",
            "cooking all weekend with my sister",
            "the new menu is out and it looks amazing",
            "trying a new recipe tonight",
            "hungry again already",
        ),
        text_keyphrases=("pizza night", "vegan"),
        ocr_keyphrases=("taco tuesday", "brunch", "chef special", "happy hour"),
        visual=(
            VisualTopic("coffee lover", "photo:coffee"),
            VisualTopic("fresh fruit", "watermelon"),
        ),
    ),
    Domain(
        name="sports",
        context=(
            "what a match last night",
            "cannot wait for the season to start",
            "our team is on fire this year",
            "huge win for the squad",
            "tickets are finally booked for saturday",
            "coach says the boys are ready",
        ),
        text_keyphrases=("nba", "world cup"),
        ocr_keyphrases=("game day", "final score", "home opener", "playoffs"),
        visual=(
            VisualTopic("march madness", "basketball"),
            VisualTopic("horse racing", "photo:horse"),
        ),
    ),
    Domain(
        name="music",
        context=(
            "this song has been on repeat all week",
            "the band sounded incredible",
            "front row with my best friends",
            "new music friday is here",
            "still singing from last night",
            "the crowd was unreal",
        ),
        text_keyphrases=("grammys", "new album"),
        ocr_keyphrases=("live tonight", "tour dates", "sold out", "encore"),
        visual=(VisualTopic("vinyl", "vinyl"), VisualTopic("concert", "spotlights")),
    ),
    Domain(
        name="travel",
        context=(
            "packed my bags and ready to go",
            "views like this make it all worth it",
            "landed safely after a long flight",
            "exploring the old town today",
            "missing this place already",
            "first stop of the trip",
        ),
        text_keyphrases=("road trip", "beach"),
        ocr_keyphrases=("wanderlust", "paris", "passport", "island life"),
        visual=(VisualTopic("bike life", "photo:motorcycle"), VisualTopic("sunset", "sunset")),
    ),
    Domain(
        name="pets",
        context=(
            "someone is very happy to see me",
            "meet the newest member of our family",
            "nap time is serious business here",
            "he stole my spot on the couch again",
            "she waited by the door all day",
            "best friend on four legs",
        ),
        text_keyphrases=("puppy", "adopt dont shop"),
        ocr_keyphrases=("rescue", "good boy", "vet visit", "treat time"),
        visual=(VisualTopic("cats of twitter", "photo:cat"), VisualTopic("pet love", "paw")),
    ),
    Domain(
        name="tech",
        context=(
            "the future is finally here",
            "big announcement coming from the team",
            "watching the livestream right now",
            "the engineers pulled an all nighter",
            "this changes everything for developers",
            "history in the making today",
        ),
        text_keyphrases=("iphone", "ai"),
        ocr_keyphrases=("launch day", "hackathon", "open source", "beta"),
        visual=(VisualTopic("spacex", "photo:rocket"), VisualTopic("robotics", "robot")),
    ),
)

# Sentences that say nothing about the domain: only the image tells what such a post is about.
GENERIC_SENTENCES = (
    "look at this",
    "no words",
    "best day ever",
    "this is everything",
    "you have to see this",
    "so happy right now",
    "okay this made my day",
    "<number> reasons to smile today",
)

_OPENERS = ("", "", "omg", "honestly", "so", "wow", "<user>")
_CLOSERS = ("", "!", "!", ".", "<url>", "<user>", "<number> / <number>")
# Ways a text keyphrase is worked into a domain sentence.
_KEYPHRASE_TEMPLATES = (
    "{context} . {keyphrase} !",
    "{keyphrase} with the crew ! {context}",
    "all about {keyphrase} today . {context}",
    "{context} , {keyphrase} forever",
    "{context} # {keyphrase}",
)


def compose_text(rng: random.Random, body: str) -> str:
    """Wrap a sentence in a random opener and closer, in the dataset's tokenised lowercase style."""
    tokens = [rng.choice(_OPENERS), body, rng.choice(_CLOSERS)]
    return " ".join(token for token in tokens if token)


def domain_sentence(rng: random.Random, domain: Domain) -> str:
    """A sentence that reveals the domain but none of its keyphrases."""
    return compose_text(rng, rng.choice(domain.context))


def keyphrase_sentence(rng: random.Random, domain: Domain, keyphrase: str) -> str:
    """A domain sentence that contains `keyphrase` verbatim."""
    template = rng.choice(_KEYPHRASE_TEMPLATES)
    body = template.format(context=rng.choice(domain.context), keyphrase=keyphrase)
    return compose_text(rng, body)


def generic_sentence(rng: random.Random) -> str:
    """A sentence that reveals neither the domain nor a keyphrase."""
    return compose_text(rng, rng.choice(GENERIC_SENTENCES))
