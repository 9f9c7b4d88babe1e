"""The course's offline corpus: generated English whose exact probabilities are known.

Every document comes from a small probabilistic grammar written in this file: short
stories, dialogues between two people, lists of questions with answers, and diary
entries. Nothing is copied from anywhere. Because we wrote the generator, we know
``p(text)`` exactly, so we know how well the *best possible* language model could do on
this text (the "entropy floor") and can see how close a trained model gets.

The text has structure a small model can learn: a story's hero keeps the name given in
its first sentence, dialogue lines alternate between two speakers, answers follow from
their questions (``What is 3 plus 4?`` / ``Answer: 7.``), diary days come in order.
The train split has about 1M words, or 1.4M tokens of a GPT-style BPE tokenizer; its
entropy floor is about 0.95 nats per word, or about 0.7 nats per such token.

How the grammar is written
    A grammar function receives a :class:`Chooser` and calls three methods on it:
    ``say(text)`` writes fixed text, ``say_pick(options)`` chooses one option at random
    and writes it at once, and ``pick(options)`` chooses without writing anything yet
    (for example which kind of question comes next). The log-probability of a document
    is the sum of the log-probabilities of all the choices made while writing it.

Why that sum is ``log p(text)``
    Only if no two different sequences of choices write the same text (the map from
    choices to text is *injective*). The grammar is designed for this: every choice
    leaves a visible trace in the text (a name that differs, a word that differs, a line
    that starts differently). :func:`parse` checks it: it replays the grammar against a
    text and finds *every* sequence of choices that writes exactly that text. For
    generated documents it finds exactly one (tests/test_data.py checks this), and
    :func:`log_prob` recomputes a document's log-probability from its text alone.

Typical use::

    from llmcourse.data import EOT, load_corpus, corpus_text, entropy_floor
    train = load_corpus("train")          # list of Document(text, log_prob)
    text = corpus_text("train")           # one string: each document followed by EOT
    floor = entropy_floor(train, lambda t: len(tokenizer.encode(t)))  # nats per token
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

EOT = "<|endoftext|>"
"""Written after every document when documents are joined into one training text."""

T = TypeVar("T")


@dataclass(frozen=True)
class Document:
    """One generated document and the natural log of its probability under the grammar."""

    text: str
    log_prob: float


# ---------------------------------------------------------------------------------------
# Choosers: the grammar talks to a Chooser. A Sampler makes random choices; a _Replayer
# makes the choices that reproduce a given text.
# ---------------------------------------------------------------------------------------


def _choice_log_prob(index: int, n: int, weights: Sequence[float] | None) -> float:
    """log P(option ``index``) for a uniform choice among ``n`` options, or a weighted one."""
    if weights is None:
        return -math.log(n)
    return math.log(weights[index] / sum(weights))


class Chooser(ABC):
    """Makes the random choices of a grammar and collects the text it writes.

    ``choices`` lists the index of every option chosen so far and ``log_prob`` is the sum
    of their log-probabilities (natural log).
    """

    def __init__(self) -> None:
        self.choices: list[int] = []
        self.log_prob = 0.0

    def pick(self, options: Sequence[T], weights: Sequence[float] | None = None) -> T:
        """Choose one of ``options`` without writing anything (uniform unless ``weights``)."""
        return options[self._record(options, weights, None)]

    def say_pick(
        self,
        options: Sequence[T],
        weights: Sequence[float] | None = None,
        render: Callable[[T], str] = str,
    ) -> T:
        """Choose one of ``options`` and write ``render(option)`` at once."""
        option = options[self._record(options, weights, render)]
        self.say(render(option))
        return option

    def _record(self, options: Sequence[T], weights: Sequence[float] | None, render: Callable[[T], str] | None) -> int:
        index = self._choose(options, weights, render)
        self.choices.append(index)
        self.log_prob += _choice_log_prob(index, len(options), weights)
        return index

    @abstractmethod
    def _choose(self, options: Sequence[T], weights: Sequence[float] | None, render: Callable[[T], str] | None) -> int:
        """The index of the option to take; ``render`` is None when nothing is written."""

    @abstractmethod
    def say(self, text: str) -> None:
        """Write ``text``."""


class Sampler(Chooser):
    """Makes the choices at random with ``rng`` and keeps the text written."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng
        self._parts: list[str] = []

    @property
    def text(self) -> str:
        """The text written so far."""
        return "".join(self._parts)

    def _choose(self, options: Sequence[T], weights: Sequence[float] | None, render: Callable[[T], str] | None) -> int:
        if weights is None:
            return self.rng.randrange(len(options))
        return self.rng.choices(range(len(options)), weights)[0]

    def say(self, text: str) -> None:
        self._parts.append(text)


class _Mismatch(Exception):
    """The grammar wrote something that is not in the text: a dead end."""


class _Branch(Exception):
    """More than one option fits the text here; each must be tried in turn."""

    def __init__(self, candidates: list[int]) -> None:
        super().__init__()
        self.candidates = candidates


class _Replayer(Chooser):
    """Runs the grammar against ``text``: its choices are those that reproduce the text.

    The first ``len(forced)`` choices are taken from ``forced``. After that, an option is
    taken if it is the only one that fits: for ``say_pick``, an option fits if the text
    continues with what it would write. When several options fit (always the case for a
    ``pick`` with several options), :class:`_Branch` is raised and :func:`parse` runs the
    grammar again once per candidate.
    """

    def __init__(self, text: str, forced: list[int]) -> None:
        super().__init__()
        self.text = text
        self.pos = 0  # how much of the text has been written so far
        self.forced = forced

    def _choose(self, options: Sequence[T], weights: Sequence[float] | None, render: Callable[[T], str] | None) -> int:
        if len(self.choices) < len(self.forced):
            return self.forced[len(self.choices)]
        if render is None:
            candidates = list(range(len(options)))
        else:
            candidates = [i for i, option in enumerate(options) if self.text.startswith(render(option), self.pos)]
        if not candidates:
            raise _Mismatch
        if len(candidates) > 1:
            raise _Branch(candidates)
        return candidates[0]

    def say(self, text: str) -> None:
        if not self.text.startswith(text, self.pos):
            raise _Mismatch
        self.pos += len(text)


# ---------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------


class Person(NamedTuple):
    """Someone in a story or dialogue, with the pronouns that go with them."""

    name: str
    he: str
    him: str
    his: str


def _girl(name: str) -> Person:
    return Person(name, "she", "her", "her")


def _boy(name: str) -> Person:
    return Person(name, "he", "him", "his")


GIRLS = [
    _girl(n)
    for n in ("Anna Lily Mia Sara Emma Zoe Nora Ella Ruby Lucy Ivy Maya Clara Rosa Hana Tara Jade Kate Amy Eva").split()
]
BOYS = [
    _boy(n)
    for n in ("Ben Tom Sam Leo Max Jack Noah Finn Luke Omar Theo Hugo Ravi Dan Eli Owen Paul Tim Kai Adam").split()
]
PEOPLE = GIRLS + BOYS
FAMILY = [_girl("mom"), _boy("dad"), _girl("grandma"), _boy("grandpa"), _girl("aunt"), _boy("uncle")]

NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()

ADJECTIVES = "little small kind brave happy curious shy clever friendly tiny young funny gentle busy sleepy old".split()
CREATURES = (
    "girl boy rabbit fox bear cat dog mouse owl duck frog pig lion tiger horse squirrel turtle "
    "puppy kitten elephant monkey"
).split()
COLOURS = "red blue green yellow pink purple orange white black brown".split()
HIDING_PLACES = [
    "under the bed",
    "in the grass",
    "behind a rock",
    "near the door",
    "in the sand",
    "under a tree",
    "on the road",
    "inside an old boot",
]
HOMES = ["a small house", "a little cottage", "a cozy cabin", "a big house", "an old farm", "a tiny hut"]
LANDMARKS = ["the forest", "the river", "the lake", "the hill", "the park", "the sea", "the school", "the mountain"]
ACTIVITIES = [
    "play in the garden",
    "read books",
    "sing songs",
    "draw pictures",
    "climb trees",
    "swim in the lake",
    "dance",
    "play with a ball",
    "look at the stars",
    "bake cookies",
    "ride a bike",
    "build sand castles",
    "pick flowers",
    "fly a kite",
    "jump in puddles",
    "play the drums",
]
CHORES = [
    "wash the dishes",
    "clean the kitchen",
    "cook dinner",
    "water the plants",
    "feed the dog",
    "carry the bags",
    "fold the clothes",
    "sweep the floor",
    "paint the fence",
    "bake bread",
]
GAMES = ["hide and seek", "tag", "catch", "chess", "football", "cards"]
FOODS = ["pizza", "soup", "rice", "pasta", "cake", "ice cream", "bread", "cheese", "salad", "pancakes"]
FRUITS = ["apples", "pears", "plums", "cherries", "strawberries", "oranges", "peaches", "lemons"]

# name: (sound, number of legs); a sound of None means "this animal has no sound here".
ANIMALS = {
    "dog": ("woof", 4),
    "cat": ("meow", 4),
    "cow": ("moo", 4),
    "duck": ("quack", 2),
    "sheep": ("baa", 4),
    "pig": ("oink", 4),
    "owl": ("hoot", 2),
    "lion": ("roar", 4),
    "horse": ("neigh", 4),
    "frog": ("croak", 4),
    "mouse": ("squeak", 4),
    "hen": ("cluck", 2),
    "bee": ("buzz", 6),
    "snake": ("hiss", 0),
    "spider": (None, 8),
    "ant": (None, 6),
    "fish": (None, 0),
}
SOUNDS = {animal: sound for animal, (sound, _) in ANIMALS.items() if sound is not None}
COLOURED_THINGS = {
    "a banana": "yellow",
    "a lemon": "yellow",
    "the sun": "yellow",
    "a tomato": "red",
    "a strawberry": "red",
    "a cherry": "red",
    "a carrot": "orange",
    "a pumpkin": "orange",
    "a frog": "green",
    "a leaf": "green",
    "grass": "green",
    "the sky": "blue",
    "the sea": "blue",
    "snow": "white",
    "milk": "white",
    "a cloud": "white",
    "coal": "black",
    "a crow": "black",
    "a plum": "purple",
    "a grape": "purple",
    "a flamingo": "pink",
    "chocolate": "brown",
    "mud": "brown",
}
_OPPOSITE_PAIRS = [
    ("hot", "cold"),
    ("big", "small"),
    ("up", "down"),
    ("fast", "slow"),
    ("happy", "sad"),
    ("day", "night"),
    ("open", "closed"),
    ("old", "young"),
    ("light", "dark"),
    ("wet", "dry"),
    ("full", "empty"),
    ("loud", "quiet"),
    ("hard", "soft"),
    ("tall", "short"),
    ("early", "late"),
    ("clean", "dirty"),
    ("strong", "weak"),
    ("thick", "thin"),
    ("rich", "poor"),
    ("left", "right"),
    ("first", "last"),
    ("push", "pull"),
    ("win", "lose"),
    ("give", "take"),
    ("start", "stop"),
    ("inside", "outside"),
]
OPPOSITES = dict(_OPPOSITE_PAIRS) | {b: a for a, b in _OPPOSITE_PAIRS}
PLURALS = {
    "cat": "cats",
    "dog": "dogs",
    "book": "books",
    "toy": "toys",
    "shoe": "shoes",
    "apple": "apples",
    "box": "boxes",
    "bus": "buses",
    "fox": "foxes",
    "dish": "dishes",
    "glass": "glasses",
    "watch": "watches",
    "baby": "babies",
    "city": "cities",
    "story": "stories",
    "leaf": "leaves",
    "knife": "knives",
    "wolf": "wolves",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "mouse": "mice",
    "child": "children",
    "foot": "feet",
    "tooth": "teeth",
    "man": "men",
    "woman": "women",
    "goose": "geese",
    "sheep": "sheep",
    "fish": "fish",
    "deer": "deer",
    "person": "people",
}
SPELLING_WORDS = (
    "cat dog sun hat bed cup pig fish book tree milk bird frog cake ball star moon rain snow "
    "apple house water happy green bread mouse horse tiger plant"
).split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
FEELINGS = ["fine", "very well", "happy", "a bit tired", "great", "sleepy"]
# place: what you do there
ERRANDS = {
    "park": "play",
    "shop": "buy some bread",
    "library": "get a new book",
    "beach": "swim",
    "zoo": "see the animals",
    "farm": "help my uncle",
    "pool": "learn to swim",
}
# weather: what the other person answers
WEATHER_REPLIES = {
    "sunny": "Let us play outside!",
    "rainy": "Then we need an umbrella.",
    "windy": "Good, we can fly a kite!",
    "cold": "I will wear my warm coat.",
    "snowy": "Let us build a snowman!",
    "cloudy": "Maybe it will rain later.",
}


def _a(word: str) -> str:
    """``word`` with its indefinite article: "a cat", "an owl"."""
    return ("an " if word[0] in "aeiou" else "a ") + word


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _name(person: Person) -> str:
    return person.name


def _number(n: int) -> str:
    return NUMBER_WORDS[n]


def _names_for(creature: str) -> list[Person]:
    """Names that fit a creature: girls' names for a girl, boys' for a boy, any for an animal."""
    return {"girl": GIRLS, "boy": BOYS}.get(creature, PEOPLE)


def _others(person: Person, people: Sequence[Person] = PEOPLE) -> list[Person]:
    return [p for p in people if p != person]


# ---------------------------------------------------------------------------------------
# Free sentences: what someone did, e.g. "fed a fluffy white duck by the lake after lunch".
# Much of the corpus's entropy comes from here. The adjectives and nouns all start with
# a consonant, so "a" (never "an") fits before each of them.
# ---------------------------------------------------------------------------------------


class NounClass(NamedTuple):
    """Nouns with the adjectives and colours that go well with them."""

    adjectives: list[str]
    colours: list[str]
    nouns: list[str]


ANIMAL_NOUNS = NounClass(
    adjectives=(
        "big small tiny little funny noisy fluffy sleepy hungry friendly lazy silly wild cute brave young"
    ).split(),
    colours="white black brown grey".split(),
    nouns=(
        "bird cat dog duck fox frog goat horse mouse pig puppy rabbit sheep squirrel turtle kitten bear cow "
        "deer hen camel donkey goose lamb monkey panda parrot pony seal snail wolf zebra"
    ).split(),
)
THING_NOUNS = NounClass(
    adjectives=(
        "big small tiny little pretty shiny soft heavy dirty new broken strange warm wet bright round long"
    ).split(),
    colours="red blue green yellow pink purple white black brown".split(),
    nouns=(
        "ball basket bell book bottle box brush cake candle cup drum flower hat kite lamp map "
        "pen pillow rock rope shell shoe sock spoon stick toy wagon whistle balloon blanket bowl "
        "bucket button coat crayon doll jar key kettle mirror necklace plate puzzle ribbon ring robot scarf towel"
    ).split(),
)


class Verb(NamedTuple):
    """A verb in the present ("I feed") and the past ("I fed")."""

    base: str  # "feed"
    past: str  # "fed"
    objects: NounClass | None  # the kind of object it takes, None if it takes none


def _verbs(objects: NounClass | None, forms: str) -> list[Verb]:
    """Verbs from "base/past base/past ..."."""
    return [Verb(*pair.split("/"), objects) for pair in forms.split()]


VERBS = (
    _verbs(
        ANIMAL_NOUNS,
        "see/saw feed/fed follow/followed hug/hugged chase/chased watch/watched help/helped "
        "call/called meet/met draw/drew pet/petted wash/washed greet/greeted tickle/tickled",
    )
    + _verbs(
        THING_NOUNS,
        "find/found carry/carried paint/painted drop/dropped hide/hid buy/bought "
        "lose/lost hold/held fix/fixed make/made share/shared throw/threw kick/kicked "
        "sell/sold wrap/wrapped bring/brought take/took keep/kept",
    )
    + _verbs(
        None,
        "walk/walked run/ran jump/jumped sit/sat sleep/slept sing/sang dance/danced "
        "play/played wait/waited rest/rested swim/swam laugh/laughed hop/hopped skip/skipped "
        "smile/smiled shout/shouted hum/hummed climb/climbed",
    )
)
# ADVERBS, PLACES and TIMES are optional: "" means none.
ADVERBS = ["", "quickly ", "slowly ", "happily ", "quietly ", "carefully ", "proudly ", "gently ", "suddenly "]
SPOTS = [
    "the house",
    "the school",
    "the barn",
    "the shop",
    "the bridge",
    "the old tree",
    "the big rock",
    "the fence",
    "the pond",
    "the well",
    "the gate",
    "the library",
]
PLACES = (
    [""]
    + [f" {where} {spot}" for where in ("near", "by", "behind", "next to", "in front of") for spot in SPOTS]
    + [" in the garden", " in the park", " in the forest", " in the yard", " at home", " at the beach"]
)
TIMES = [
    "",
    " in the morning",
    " in the afternoon",
    " in the evening",
    " after lunch",
    " before dinner",
    " after school",
    " at noon",
    " at night",
    " at sunset",
] + [f" on {day}" for day in DAYS]


def _noun_phrase(c: Chooser, kind: NounClass, articles: Sequence[str] = ("a ", "the ")) -> tuple[str, str]:
    """Write an article, maybe an adjective, maybe a colour, and a noun: "a fluffy white duck".

    Returns the whole phrase and its noun.
    """
    article = c.say_pick(articles)
    adjective = c.say_pick(["", *(word + " " for word in kind.adjectives)])
    colour = c.say_pick(["", *(word + " " for word in kind.colours)])
    noun = c.say_pick(kind.nouns)
    return article + adjective + colour + noun, noun


def _predicate(c: Chooser, past: bool = True, with_time: bool = True) -> tuple[str, Verb, str]:
    """Write what someone did (or does): maybe an adverb, a verb, its object if any, maybe a place and a time.

    Returns the text before the verb, the verb and the text after it, e.g.
    ``("gently ", Verb("feed", "fed", ...), " a white duck at home")``.
    """
    adverb = c.say_pick(ADVERBS)
    verb = c.say_pick(VERBS, render=lambda v: v.past if past else v.base)
    rest = ""
    if verb.objects is not None:
        c.say(" ")
        rest = " " + _noun_phrase(c, verb.objects)[0]
    rest += c.say_pick(PLACES)
    if with_time:
        rest += c.say_pick(TIMES)
    return adverb, verb, rest


def _free_sentence(c: Chooser, hero: Person, openers: Sequence[str]) -> None:
    """Write an opener, the hero's name or pronoun and a predicate: e.g. "Then she fed a duck."."""
    c.say_pick(openers)
    c.say_pick([hero.name, hero.he])
    c.say(" ")
    _predicate(c)
    c.say(".")


# ---------------------------------------------------------------------------------------
# Stories: an introduction, one or two episodes, an ending.
# ---------------------------------------------------------------------------------------


def _find_something(c: Chooser, hero: Person) -> None:
    c.say(f"{hero.name} found ")
    _, thing = _noun_phrase(c, THING_NOUNS, ["a "])
    c.say(" ")
    c.say_pick(HIDING_PLACES)
    c.say(". ")
    c.say_pick(
        [
            f"{_cap(hero.he)} picked it up and took it home.",
            f"{_cap(hero.he)} put it in {hero.his} bag.",
            f"{_cap(hero.he)} could not believe {hero.his} eyes.",
        ]
    )
    c.say(f" {hero.name} kept the {thing} ")
    c.say_pick(["on the table", "next to the bed", "in a box", "by the window", "under the pillow"])
    c.say(".")


def _meet_friend(c: Chooser, hero: Person) -> None:
    c.say(f"{hero.name} met ")
    creature = c.say_pick(CREATURES, render=_a)
    c.say(" named ")
    friend = c.say_pick(_others(hero, _names_for(creature)), render=_name)
    c.say(f". {friend.name} ")
    c.say_pick(["was sad", "was crying", "looked unhappy"])
    c.say(f" because {friend.he} had lost ")
    _, thing = _noun_phrase(c, THING_NOUNS, [friend.his + " "])
    c.say(f'. "Do not worry," said {hero.name}. "I will help you." They looked ')
    first = c.say_pick(HIDING_PLACES)
    c.say(" and ")
    second = c.say_pick([p for p in HIDING_PLACES if p != first])
    c.say(f". At last, {hero.name} found the {thing} ")
    c.say_pick([p for p in HIDING_PLACES if p not in (first, second)])
    c.say(f". {friend.name} ")
    c.say_pick(["smiled", "jumped for joy", "clapped"])
    c.say(f' and said, "Thank you, {hero.name}!"')


def _play_game(c: Chooser, hero: Person) -> None:
    c.say(f"{hero.name} played ")
    c.say_pick(GAMES)
    c.say(f" with {hero.his} friend ")
    friend = c.say_pick(_others(hero), render=_name)
    c.say(" in the ")
    c.say_pick(["park", "garden", "yard", "field"])
    c.say(". ")
    winner = c.say_pick([hero, friend], render=_name)
    loser = friend if winner == hero else hero
    c.say(f" won the first game, and {loser.name} won the second one. ")
    c.say_pick(["They played until the sun went down.", "Then they went home for dinner.", "It was a lot of fun."])


def _pick_fruit(c: Chooser, hero: Person) -> None:
    c.say(f"{hero.name} went to the ")
    c.say_pick(["garden", "market", "farm", "orchard"])
    c.say(" to get some ")
    fruit = c.say_pick(FRUITS)
    c.say(f". {_cap(hero.he)} picked ")
    first = c.say_pick(range(2, 7), render=_number)
    c.say(f" {fruit}, and then {hero.he} picked ")
    more = c.say_pick(range(1, 5), render=_number)
    total = first + more
    c.say(f" more. Now {hero.he} had {_number(total)} {fruit}. {hero.name} gave ")
    given = c.say_pick(range(1, total), render=_number)
    c.say(f" to {hero.his} ")
    c.say_pick(FAMILY, render=_name)
    c.say(f", so {hero.he} had {_number(total - given)} left.")


def _help_family(c: Chooser, hero: Person) -> None:
    c.say(f"{hero.name}'s ")
    relative = c.say_pick(FAMILY, render=_name)
    c.say(f" was very busy, so {hero.name} helped {relative.him} ")
    c.say_pick(CHORES)
    c.say(". ")
    c.say_pick(
        [
            f'"You are a great helper, {hero.name}!"',
            f'"Thank you, {hero.name}!"',
            f'"You are so kind, {hero.name}!"',
        ]
    )
    c.say(f" said {hero.his} {relative.name}.")


def _draw_picture(c: Chooser, hero: Person) -> None:
    c.say(f"{hero.name} ")
    c.say_pick(["drew", "painted"])
    c.say(" a picture of ")
    colour = c.say_pick(COLOURS, render=_a)
    c.say(" ")
    animal = c.say_pick(list(ANIMALS))
    c.say(f". {_cap(hero.he)} showed it to {hero.his} ")
    c.say_pick(FAMILY, render=_name)
    c.say(f', who said, "What a beautiful {colour} {animal}!"')


def _weather(c: Chooser, hero: Person) -> None:
    c.say("it started to ")
    weather = c.say_pick(["rain", "snow"])
    c.say(f". {hero.name} put on {hero.his} ")
    c.say_pick(COLOURS)
    c.say(" ")
    c.say_pick(["coat", "boots", "hat", "scarf"])
    c.say(f" and went outside. {_cap(hero.he)} ")
    if weather == "rain":
        c.say_pick(["jumped in every puddle.", "danced in the rain.", "watched the drops fall from the trees."])
    else:
        c.say_pick(["made a big snowman.", "threw snowballs at the trees.", "made a snow angel."])


EPISODES = [_find_something, _meet_friend, _play_game, _pick_fruit, _help_family, _draw_picture, _weather]


def story(c: Chooser) -> None:
    """A short story about one hero, whose name is reused throughout."""
    c.say_pick(["Once upon a time, there was ", "Long ago, there lived ", "One sunny morning, there was "])
    c.say_pick(ADJECTIVES, render=_a)
    c.say(" ")
    creature = c.say_pick(CREATURES)
    c.say(" named ")
    hero = c.say_pick(_names_for(creature), render=_name)
    c.say(". ")
    c.say_pick([hero.name, _cap(hero.he)])
    c.say(" lived in ")
    c.say_pick(HOMES)
    c.say(" ")
    c.say_pick(["near", "by", "behind", "next to"])
    c.say(" ")
    c.say_pick(LANDMARKS)
    c.say(". ")
    c.say_pick(
        [
            f"{hero.name} loved to ",
            f"Every day, {hero.he} liked to ",
            f"More than anything, {hero.he} loved to ",
        ]
    )
    c.say_pick(ACTIVITIES)
    c.say(".")
    for _ in range(c.pick([1, 2])):
        c.say(" ")
        _free_sentence(c, hero, ["Every morning, ", "On most days, ", "Each evening, ", "Sometimes ", "Once, "])
    for i in range(c.pick([1, 2])):
        c.say("\n\n")
        c.say_pick(
            ["One day, ", "One morning, ", "One afternoon, ", "One evening, ", "One Monday, ", "One Friday, "]
            if i == 0
            else ["The next day, ", "A week later, ", "The day after, ", "Two days later, "]
        )
        c.pick(EPISODES)(c, hero)
        for _ in range(c.pick([1, 2])):
            c.say(" ")
            _free_sentence(c, hero, ["Then ", "After that, ", "Later, ", "Soon, ", "Next, ", "After a while, "])
    c.say("\n\n")
    c.say_pick(
        [
            f"In the end, {hero.name} was very happy.",
            f"That night, {hero.name} went to bed with a big smile.",
            f"It was the best day ever for {hero.name}.",
            f"{hero.name} would never forget that day.",
            f"{_cap(hero.he)} fell asleep with a smile on {hero.his} face.",
            f"And {hero.name} lived happily ever after.",
            f"From then on, {hero.name} was never bored again.",
            f"What a wonderful day it was for {hero.name}!",
        ]
    )


# ---------------------------------------------------------------------------------------
# Dialogues: a greeting, two to four exchanges, a goodbye. Each line starts "Name: ".
# ---------------------------------------------------------------------------------------


def _favourite(c: Chooser, asker: Person, answerer: Person) -> None:
    topic, options = c.say_pick(
        [("colour", COLOURS), ("animal", list(ANIMALS)), ("food", FOODS), ("game", GAMES)],
        render=lambda t: f"What is your favourite {t[0]}?",
    )
    c.say(f"\n{answerer.name}: My favourite {topic} is ")
    theirs = c.say_pick(options)
    c.say(f". What about you?\n{asker.name}: I like ")
    mine = c.say_pick(options)
    c.say(" too!" if mine == theirs else ".")


def _colour_of(c: Chooser, asker: Person, answerer: Person) -> None:
    thing = c.say_pick(list(COLOURED_THINGS), render=lambda t: f"What colour is {t}?")
    c.say(f"\n{answerer.name}: {_cap(thing)} is {COLOURED_THINGS[thing]}.")


def _animal_sound(c: Chooser, asker: Person, answerer: Person) -> None:
    animal = c.say_pick(list(SOUNDS), render=lambda a: f"What does {_a(a)} say?")
    c.say(f"\n{answerer.name}: {_cap(_a(animal))} says {SOUNDS[animal]}.")


def _counting(c: Chooser, asker: Person, answerer: Person) -> None:
    c.say("I have ")
    have = c.say_pick(range(2, 11), render=_number)
    c.say(" ")
    fruit = c.say_pick(FRUITS)
    c.say(". If I get ")
    more = c.say_pick(range(1, 11), render=_number)
    c.say(f" more, how many will I have?\n{answerer.name}: You will have {_number(have + more)} {fruit}.")


def _invitation(c: Chooser, asker: Person, answerer: Person) -> None:
    activity = c.say_pick(ACTIVITIES, render=lambda a: f"Do you want to {a} with me?")
    c.say(f"\n{answerer.name}: ")
    c.say_pick([f"Yes! I love to {activity}.", "Sorry, I cannot right now.", "Maybe later."])


def _errand(c: Chooser, asker: Person, answerer: Person) -> None:
    c.say(f"Where are you going?\n{answerer.name}: I am going to the ")
    place = c.say_pick(list(ERRANDS))
    c.say(f" to {ERRANDS[place]}.\n{asker.name}: Have fun at the {place}!")


def _weather_talk(c: Chooser, asker: Person, answerer: Person) -> None:
    c.say(f"What is the weather like today?\n{answerer.name}: It is ")
    weather = c.say_pick(list(WEATHER_REPLIES))
    c.say(f" today.\n{asker.name}: {WEATHER_REPLIES[weather]}")


def _day_talk(c: Chooser, asker: Person, answerer: Person) -> None:
    c.say_pick(["What did you do today?", "What did you do yesterday?", "What did you do after school?"])
    c.say(f"\n{answerer.name}: I ")
    _predicate(c)
    c.say(".")
    for _ in range(c.pick([0, 1, 2])):
        c.say_pick([" Then I ", " After that, I ", " Later, I "])
        _predicate(c)
        c.say(".")
    c.say(f"\n{asker.name}: ")
    c.say_pick(["That sounds fun!", "Wow, really?", "Me too!", "Nice!"])


EXCHANGES = [_day_talk, _favourite, _colour_of, _animal_sound, _counting, _invitation, _errand, _weather_talk]
EXCHANGE_WEIGHTS = [6, 1, 1, 1, 1, 1, 1, 1]


def dialogue(c: Chooser) -> None:
    """Two people talk; each exchange is a question and an answer that fits it."""
    first = c.say_pick(PEOPLE, render=lambda p: f"{p.name}: ")
    greeting = c.say_pick(["Hello", "Hi", "Good morning", "Hey"])
    c.say(", ")
    second = c.say_pick(_others(first), render=_name)
    c.say(f"!\n{second.name}: {greeting}, {first.name}! How are you?\n{first.name}: I am ")
    c.say_pick(FEELINGS)
    c.say(", thank you.")
    for _ in range(c.pick([2, 3, 4])):
        asker = c.say_pick([first, second], render=lambda p: f"\n{p.name}: ")
        c.pick(EXCHANGES, EXCHANGE_WEIGHTS)(c, asker, second if asker == first else first)
    leaver = c.say_pick([first, second], render=lambda p: f"\n{p.name}: ")
    stayer = second if leaver == first else first
    c.say_pick(["I have to go now.", "I must go home now.", "It is getting late.", "My mom is calling me."])
    c.say(f" Goodbye, {stayer.name}!\n{stayer.name}: Goodbye, {leaver.name}! See you ")
    c.say_pick(["tomorrow", "soon", "later", "at school"])
    c.say(".")


# ---------------------------------------------------------------------------------------
# Questions and answers: the answer follows from the question.
# ---------------------------------------------------------------------------------------


def _addition(c: Chooser) -> None:
    c.say("What is ")
    x = c.say_pick(range(10))
    c.say(" plus ")
    y = c.say_pick(range(10))
    c.say(f"?\nAnswer: {x + y}.")


def _subtraction(c: Chooser) -> None:
    c.say("What is ")
    x = c.say_pick(range(21))
    c.say(" minus ")
    y = c.say_pick(range(x + 1))
    c.say(f"?\nAnswer: {x - y}.")


def _bigger(c: Chooser) -> None:
    c.say("Which number is bigger, ")
    x = c.say_pick(range(51))
    c.say(" or ")
    y = c.say_pick([n for n in range(51) if n != x])
    c.say(f"?\nAnswer: {max(x, y)}.")


def _next_number(c: Chooser) -> None:
    n = c.say_pick(range(100), render=lambda n: f"What number comes after {n}?")
    c.say(f"\nAnswer: {n + 1}.")


def _sort_numbers(c: Chooser) -> None:
    c.say("Put these numbers in order: ")
    chosen: list[int] = []
    for separator in (", ", ", ", "."):
        chosen.append(c.say_pick([n for n in range(21) if n not in chosen]))
        c.say(separator)
    c.say("\nAnswer: " + ", ".join(str(n) for n in sorted(chosen)) + ".")


def _opposite(c: Chooser) -> None:
    word = c.say_pick(list(OPPOSITES), render=lambda w: f"What is the opposite of {w}?")
    c.say(f"\nAnswer: The opposite of {word} is {OPPOSITES[word]}.")


def _colour(c: Chooser) -> None:
    thing = c.say_pick(list(COLOURED_THINGS), render=lambda t: f"What colour is {t}?")
    c.say(f"\nAnswer: {_cap(thing)} is {COLOURED_THINGS[thing]}.")


def _plural(c: Chooser) -> None:
    word = c.say_pick(list(PLURALS), render=lambda w: f"What is the plural of {w}?")
    c.say(f"\nAnswer: The plural of {word} is {PLURALS[word]}.")


def _sound(c: Chooser) -> None:
    animal = c.say_pick(list(SOUNDS), render=lambda a: f"What sound does {_a(a)} make?")
    c.say(f"\nAnswer: {_cap(_a(animal))} says {SOUNDS[animal]}.")


def _legs(c: Chooser) -> None:
    animal = c.say_pick(list(ANIMALS), render=lambda a: f"How many legs does {_a(a)} have?")
    legs = ANIMALS[animal][1]
    c.say(f"\nAnswer: {_cap(_a(animal))} has {_number(legs) if legs else 'no'} legs.")


def _spell(c: Chooser) -> None:
    word = c.say_pick(SPELLING_WORDS, render=lambda w: f"Spell the word {w}.")
    c.say("\nAnswer: " + "-".join(word) + ".")


def _count_letters(c: Chooser) -> None:
    word = c.say_pick(SPELLING_WORDS, render=lambda w: f"How many letters are in the word {w}?")
    c.say(f"\nAnswer: The word {word} has {len(word)} letters.")


def _repeat(c: Chooser) -> None:
    word = c.say_pick(SPELLING_WORDS, render=lambda w: f"Repeat the word {w} ")
    times = c.say_pick([2, 3, 4], render=lambda n: f"{_number(n)} times.")
    c.say("\nAnswer: " + " ".join([word] * times) + ".")


def _day_after(c: Chooser) -> None:
    i = c.say_pick(range(7), render=lambda i: f"What day comes after {DAYS[i]}?")
    c.say(f"\nAnswer: {DAYS[(i + 1) % 7]}.")


def _past_tense(c: Chooser) -> None:
    c.say("Put this sentence in the past: I ")
    adverb, verb, rest = _predicate(c, past=False)
    c.say(f".\nAnswer: I {adverb}{verb.past}{rest}.")


QUESTIONS = [
    _addition,
    _subtraction,
    _bigger,
    _next_number,
    _sort_numbers,
    _opposite,
    _colour,
    _plural,
    _sound,
    _legs,
    _spell,
    _count_letters,
    _repeat,
    _day_after,
    _past_tense,
]


def questions(c: Chooser) -> None:
    """Three to eight questions, each followed by its answer."""
    n = c.say_pick(range(3, 9), render=lambda n: f"Here are {_number(n)} questions and answers.")
    for _ in range(n):
        c.say("\n\nQuestion: ")
        c.pick(QUESTIONS)(c)


# ---------------------------------------------------------------------------------------
# Diaries: one or two things done on each of three to six days in a row.
# ---------------------------------------------------------------------------------------


def diary(c: Chooser) -> None:
    """A diary entry: the days follow each other in order; the writer signs at the end."""
    c.say("Dear diary,")
    first_day = c.say_pick(range(7), render=lambda i: f"\nOn {DAYS[i]}, I ")
    for k in range(c.pick([3, 4, 5, 6])):
        if k > 0:
            c.say(f"\nOn {DAYS[(first_day + k) % 7]}, I ")
        _predicate(c, with_time=False)
        c.say(".")
        for _ in range(c.pick([0, 1])):
            c.say_pick([" Then I ", " After that, I ", " Later, I "])
            _predicate(c, with_time=False)
            c.say(".")
    c.say("\n")
    c.say_pick(["It was a good week.", "I am very tired now.", "I cannot wait for the weekend.", "What a busy week!"])
    c.say("\nYour friend,\n")
    c.say_pick(PEOPLE, render=_name)


KINDS = [story, dialogue, questions, diary]
KIND_WEIGHTS = [4, 3, 2, 1]


def document(c: Chooser) -> None:
    """The whole grammar: a story, a dialogue, a list of questions or a diary entry."""
    c.pick(KINDS, KIND_WEIGHTS)(c)


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------

SPLITS = {"train": (0, 10_000), "validation": (1, 500), "test": (2, 500)}
"""split name: (seed, number of documents). Different seeds make independent samples."""


def generate_document(rng: random.Random) -> Document:
    """Sample one document with ``rng``."""
    sampler = Sampler(rng)
    document(sampler)
    return Document(sampler.text, sampler.log_prob)


def generate_documents(n: int, seed: int) -> list[Document]:
    """``n`` documents sampled with ``random.Random(seed)``: the same seed gives the same list."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    return [generate_document(rng) for _ in range(n)]


@functools.cache
def _cached_split(split: str) -> tuple[Document, ...]:
    seed, n = SPLITS[split]
    return tuple(generate_documents(n, seed))


def load_corpus(split: str = "train") -> list[Document]:
    """The documents of ``split``: "train" (about 1M words), "validation" or "test" (about 50k each).

    Generated on first use (a few seconds) and cached in memory.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {sorted(SPLITS)}")
    return list(_cached_split(split))


def corpus_text(split: str = "train") -> str:
    """All documents of ``split`` in one string, each followed by :data:`EOT`."""
    return "".join(doc.text + EOT for doc in load_corpus(split))


class Derivation(NamedTuple):
    """One way the grammar can write a text: the indices of its choices and their log-probability."""

    choices: tuple[int, ...]
    log_prob: float


def parse(text: str) -> list[Derivation]:
    """Every sequence of choices with which the grammar writes exactly ``text``.

    A depth-first search: run the grammar with a :class:`_Replayer`; where several options
    fit the text, run it again once for each of them. The list is empty if the grammar
    cannot write ``text``; it has one element for every generated document (injectivity).
    """
    found: list[Derivation] = []
    prefixes: list[list[int]] = [[]]  # choice prefixes still to explore
    while prefixes:
        replayer = _Replayer(text, prefixes.pop())
        try:
            document(replayer)
        except _Mismatch:
            continue
        except _Branch as branch:
            prefixes.extend(replayer.choices + [i] for i in reversed(branch.candidates))
            continue
        if replayer.pos == len(text):
            found.append(Derivation(tuple(replayer.choices), replayer.log_prob))
    return found


def log_prob(text: str) -> float:
    """The natural log of the probability that the grammar writes ``text`` (-inf if it cannot).

    This is the log of the sum of the probabilities of all derivations of ``text``, which
    is just the log-probability of its only derivation for a generated document.
    """
    derivations = parse(text)
    if not derivations:
        return -math.inf
    if len(derivations) == 1:
        return derivations[0].log_prob
    top = max(d.log_prob for d in derivations)
    return top + math.log(sum(math.exp(d.log_prob - top) for d in derivations))


def source_entropy_per_document(docs: Sequence[Document]) -> float:
    """Average of -log p(document) over ``docs``, in nats: an estimate of the source's entropy."""
    if not docs:
        raise ValueError("need at least one document")
    return -sum(doc.log_prob for doc in docs) / len(docs)


def entropy_floor(docs: Sequence[Document], count_tokens: Callable[[str], int]) -> float:
    """The loss, in nats per token, that no model can beat on average on text like ``docs``.

    ``sum(-log p(doc)) / sum(count_tokens(doc.text) + 1)``: the ``+ 1`` is the end-of-text
    token after each document, which a model must predict too.

    Why this is a floor: a tokenizer turns each text into exactly one token sequence and
    back, so a model ``q`` over token sequences gives each text the probability of its
    token sequence, and these probabilities sum to at most 1 over texts. For any such
    distribution, the average of ``-log q(text)`` over texts drawn from ``p`` is at least
    the average of ``-log p(text)`` (Gibbs' inequality: the cross-entropy is at least the
    entropy). Documents are independent, so earlier documents in the context do not help.
    The per-token loss of a model is its ``-log q`` summed over tokens and divided by the
    number of tokens, hence this floor. On a finite sample it is an estimate, within
    sampling noise of the true value.

    Examples: ``entropy_floor(docs, lambda t: len(tokenizer.encode(t)))`` in nats per
    token; ``entropy_floor(docs, len) / math.log(2)`` in bits per character (the end of
    text counted as one character).
    """
    if not docs:
        raise ValueError("need at least one document")
    tokens = sum(count_tokens(doc.text) + 1 for doc in docs)
    return -sum(doc.log_prob for doc in docs) / tokens


def load_hub_dataset(
    name: str = "roneneldan/TinyStories",
    split: str = "train",
    max_documents: int | None = 10_000,
    text_field: str = "text",
) -> list[str]:
    """The texts of a dataset on the Hugging Face Hub (needs ``pip install datasets`` and internet).

    Streams the first ``max_documents`` rows (all of them if None). Their probabilities
    are unknown, so there is no entropy floor for them. Raises ``RuntimeError`` when the
    ``datasets`` package is missing or the dataset cannot be loaded; the offline default
    is :func:`load_corpus`.
    """
    if max_documents is not None and max_documents < 0:
        raise ValueError(f"max_documents must be >= 0 or None, got {max_documents}")
    try:
        import datasets
    except ImportError as error:
        raise RuntimeError(
            "load_hub_dataset needs the `datasets` package (pip install datasets) and internet; "
            "the offline default corpus is llmcourse.data.load_corpus()"
        ) from error
    try:
        rows = datasets.load_dataset(name, split=split, streaming=True)
        return [row[text_field] for row in itertools.islice(rows, max_documents)]
    except Exception as error:  # no network, unknown dataset, ...: the cause is chained below
        raise RuntimeError(
            f"could not load {name!r} (split {split!r}) from the Hugging Face Hub: {error}; "
            "the offline default corpus is llmcourse.data.load_corpus()"
        ) from error


# ---------------------------------------------------------------------------------------
# Deduplication (chapter 03): exact and near-duplicate documents
# ---------------------------------------------------------------------------------------


def shingles(text: str, n: int = 5) -> set[str]:
    """The set of word ``n``-grams of ``text`` (lower-cased, split on whitespace); a text shorter
    than ``n`` words is one shingle."""
    words = text.lower().split()
    return {" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def jaccard(a: set, b: set) -> float:
    """``|a & b| / |a | b|`` (1.0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 1.0


def minhash_signatures(texts: Sequence[str], num_hashes: int = 64, n: int = 5, seed: int = 0):
    """MinHash signatures ``(len(texts), num_hashes)`` of the texts' word ``n``-gram sets.

    Each shingle is hashed once with CRC-32 (stable across runs, unlike Python's ``hash``), then
    by ``num_hashes`` random multiply-shift maps, ``(a x + b) mod 2^64`` keeping the top 32 bits
    (``a`` odd); a signature keeps each map's minimum. The
    share of equal entries of two signatures estimates the Jaccard similarity of their shingle
    sets (*On the resemblance and containment of documents*, Broder 1997), the near-duplicate
    test of large pretraining pipelines.
    """
    import zlib

    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << 63, num_hashes, dtype=np.uint64)[:, None] * np.uint64(2) + np.uint64(1)  # (H, 1), odd
    b = rng.integers(0, 1 << 63, num_hashes, dtype=np.uint64)[:, None]
    signatures = np.empty((len(texts), num_hashes), dtype=np.uint64)
    for i, text in enumerate(texts):
        x = np.fromiter((zlib.crc32(s.encode()) for s in shingles(text, n)), dtype=np.uint64)  # (k,)
        signatures[i] = ((a * x[None, :] + b) >> np.uint64(32)).min(axis=1)  # (H,): arithmetic wraps mod 2^64
    return signatures


def max_estimated_jaccard(queries, corpus, chunk: int = 256):
    """For each row of ``queries (n, H)``, the largest estimated Jaccard similarity with any row of
    ``corpus (m, H)`` (MinHash signatures of the same ``num_hashes`` and seed), and that row's index."""
    import numpy as np

    best, where = np.zeros(len(queries)), np.zeros(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        agree = (queries[start : start + chunk, None, :] == corpus[None, :, :]).mean(axis=2)  # (c, m)
        best[start : start + chunk], where[start : start + chunk] = agree.max(axis=1), agree.argmax(axis=1)
    return best, where
