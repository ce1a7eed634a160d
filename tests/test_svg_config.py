"""The viewer's settings in the SVG: written as json.dumps writes them (svg.py does it without
importing json, which costs start-up time)."""

from __future__ import annotations

import json
import random

from flamefold import svg


def reference(config):
    text = json.dumps(config, ensure_ascii=True, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def test_config_is_json_dumps():
    rnd = random.Random(7)
    alphabet = ['"', "\\", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", "é", "\u2028", "\ufffd",
                "\U0001f600", "\udc80", "a", " ", "/", "'"]
    for _ in range(500):
        s = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(12)))
        config = {"nametype": s, "searchcolor": s[::-1], "fontsize": rnd.choice([12, 12.5, 1e-7, 3e20, 7]),
                  "fontwidth": rnd.choice([0.59, 1, 0.1 + 0.2]), "xpad": 10, "inverted": rnd.random() < 0.5,
                  "truncateLeft": rnd.random() < 0.5, s or "k": None}
        assert svg._js_config(config) == reference(config), config
