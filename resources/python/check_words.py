"""The share of a text's words that are English words: whitespace-separated words, stripped of
punctuation and case, found in Debian's wamerican word list (/usr/share/dict/american-english).

    build/app/stepscope generate --model resources/models/text_delta.safetensors --prompt "And God said" \\
        --steps 2000 | /usr/bin/python3 resources/python/check_words.py

Standard library only. Prints the share, the words counted and the first words that are not in the list.
"""

import string
import sys

WORDS = "/usr/share/dict/american-english"


def main():
    with open(WORDS, encoding="utf-8") as source:
        known = {line.strip().lower() for line in source if line.strip()}
    words = [word.strip(string.punctuation).lower() for word in sys.stdin.read().split()]
    words = [word for word in words if word]
    unknown = [word for word in words if word not in known]
    share = 1 - len(unknown) / max(1, len(words))
    print("%.3f of %d words are in %s; not: %s" % (share, len(words), WORDS, " ".join(unknown[:20])))


if __name__ == "__main__":
    main()
