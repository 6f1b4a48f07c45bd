"""A few generated posts for the page's example buttons, drawn in memory at first use.

One of each kind of `mmkp.data.synthetic` post (docs/synthetic.md): the keyphrase rendered in
the image, shown as an object, written in the text, and a text keyphrase beside an unrelated
image; the same drawing code as the generated training data, so a model trained with
`mmkp demo` has seen posts like them.
"""

from __future__ import annotations

import base64
import io
import random
from functools import cache

from PIL import Image

from mmkp.data import synthetic_images as images
from mmkp.data.synthetic_topics import DOMAINS, Domain, domain_sentence, keyphrase_sentence
from mmkp.serve.schemas import Example

SIZE = (320, 240)  # the generated data's image size


def _domain(name: str) -> Domain:
    return next(domain for domain in DOMAINS if domain.name == name)


def _data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@cache
def examples() -> tuple[Example, ...]:
    rng = random.Random("mmkp-serve-examples")
    sports, pets, food = (_domain(name) for name in ("sports", "pets", "food"))
    rendered = images.render_text(SIZE, "game day", rng)[0]
    cat = images.visual(SIZE, "photo:cat", rng)[0]
    sunset = images.visual(SIZE, "sunset", rng)[0]
    brunch = images.render_text(SIZE, "brunch", rng)[0]
    posts = [
        ("rendered text", "the keyphrase is only written in the image (OCR)",
         domain_sentence(rng, sports), rendered, ["game day"]),
        ("visual object", "the keyphrase is only shown as an object (entities, regions)",
         domain_sentence(rng, pets), cat, ["cats of twitter"]),
        ("text + image", "one keyphrase in the text, another rendered in the image",
         keyphrase_sentence(rng, food, "pizza night"), brunch, ["pizza night", "brunch"]),
        ("unrelated image", "the image belongs to another topic: s_c should be low",
         keyphrase_sentence(rng, pets, "puppy"), sunset, ["puppy"]),
    ]  # fmt: skip
    return tuple(
        Example(name=name, description=about, text=text, image=_data_url(image), gold=gold)
        for name, about, text, image, gold in posts
    )
