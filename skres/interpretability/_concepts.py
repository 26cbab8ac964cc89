"""Concept sets shipped for Head Pursuit: word lists, eliciting prompts, questions.

Each concept has a word list (its tokens form the concept dictionary), training
prompts that elicit the concept (head writes are recorded on them to rank heads)
and held-out questions with a short answer (the edit is evaluated on them). The
control tasks are unrelated questions with short answers; each concept names the
controls that do not involve it: every shipped control except capital cities for
countries and plurals ("One cup, two cups") for numbers.

Prompts are completion stems with one or two worked examples, so that a small
instruction model answers with a single short word as its next token. Answers may
list alternatives separated by ``|`` (``"chef|cook"``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONCEPTS",
    "CONTROL_TASKS",
    "ConceptSet",
    "ControlTask",
    "load_concept",
    "load_control_task",
    "load_reference_prompts",
]


@dataclass(frozen=True)
class ConceptSet:
    """A concept for Head Pursuit.

    Attributes
    ----------
    name : str
    words : tuple of str
        The concept's words; :func:`~skres.interpretability.concept_token_ids`
        turns them into dictionary rows.
    prompts : tuple of str
        Training prompts (selection of heads).
    questions : tuple of (str, str)
        Held-out ``(prompt, answer)`` pairs (evaluation of edits).
    controls : tuple of str
        Names of the control tasks unrelated to this concept.
    """

    name: str
    words: tuple[str, ...]
    prompts: tuple[str, ...]
    questions: tuple[tuple[str, str], ...]
    controls: tuple[str, ...] = (
        "capitals",
        "opposites",
        "repeat",
        "plural",
        "past_tense",
    )


@dataclass(frozen=True)
class ControlTask:
    """Questions unrelated to the concepts, with short answers.

    Attributes
    ----------
    name : str
    questions : tuple of (str, str)
        ``(prompt, answer)`` pairs.
    """

    name: str
    questions: tuple[tuple[str, str], ...]


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _pairs(template: str, items: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((template.format(x=key), answer) for key, answer in items.items())


def _fill(templates: tuple[str, ...], items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t.format(x=x) for x in items for t in templates)


_COLOURS = ConceptSet(
    name="colours",
    words=_split(
        "red orange yellow green blue purple pink brown black white gray grey "
        "violet golden silver"
    ),
    prompts=_fill(
        (
            "Snow is white, grass is green, and {x} are",
            "I saw some {x}. Their color was",
        ),
        tuple(
            "strawberries lemons limes blueberries cherries carrots pumpkins grapes "
            "coal snowballs flamingos frogs crows tomatoes oranges sky".split()
        ),
    ),
    questions=_pairs(
        "Bananas are yellow and {x} are",
        {
            "sunflowers": "yellow",
            "eggplants": "purple",
            "plums": "purple",
            "cucumbers": "green",
            "raspberries": "red",
            "clouds": "white",
            "lettuce": "green",
            "rubies": "red",
            "chocolate": "brown",
            "ravens": "black",
            "emeralds": "green",
            "milk": "white",
        },
    ),
)

_COUNTRIES = ConceptSet(
    name="countries",
    words=_split(
        "France Germany Spain Italy Japan China India Russia Brazil Canada Mexico "
        "Egypt Greece Poland Turkey Sweden Norway Kenya Peru Chile Australia "
        "Argentina Portugal Ireland England Scotland Thailand Vietnam Iran Cuba"
    ),
    prompts=_fill(
        (
            "The Colosseum is in Italy. The {x} is in the country of",
            "I flew home after visiting the {x}. That trip took me to",
        ),
        (
            "Eiffel Tower",
            "Great Wall",
            "Taj Mahal",
            "Kremlin",
            "Acropolis",
            "Sagrada Familia",
            "Brandenburg Gate",
            "Statue of Liberty",
            "Sydney Opera House",
            "pyramids of Giza",
        ),
    ),
    questions=_pairs(
        "Paris is the capital of France. {x} is the capital of",
        {
            "Berlin": "Germany",
            "Madrid": "Spain",
            "Rome": "Italy",
            "Tokyo": "Japan",
            "Moscow": "Russia",
            "Cairo": "Egypt",
            "Athens": "Greece",
            "Warsaw": "Poland",
            "Lisbon": "Portugal",
            "Dublin": "Ireland",
            "Stockholm": "Sweden",
            "Beijing": "China",
        },
    ),
    controls=("opposites", "repeat", "plural", "past_tense"),
)

_NUMBERS = ConceptSet(
    name="numbers",
    words=_split(
        "zero one two three four five six seven eight nine ten eleven twelve "
        "twenty hundred thousand"
    ),
    prompts=(
        "One plus one is two. Two plus two is",
        "Three plus three is six. Four plus one is",
        "Ten minus two is eight. Nine minus four is",
        "A triangle has three sides. A square has",
        "A spider has eight legs. A dog has",
        "A day has twenty-four hours. An hour has",
        "The number after six is seven. The number after two is",
        "The number after four is five. The number after eight is",
        "Two times three is six. Two times four is",
        "Five minus one is four. Six minus three is",
        "A car has four wheels. A bicycle has",
        "There are seven days in a week and the hand has",
        "Count with me: one, two, three, four,",
        "Count backwards: ten, nine, eight,",
        "1, 2, 3, 4, 5,",
        "2, 4, 6, 8,",
        "A hexagon has six sides. A pentagon has",
        "A pair of shoes is two shoes. A dozen eggs is",
        "Half of ten is five. Half of six is",
        "Double two is four. Double three is",
    ),
    questions=_pairs(
        "One plus one is two. {x} is",
        {
            "Two plus three": "five",
            "Four plus four": "eight",
            "Three plus four": "seven",
            "Five plus four": "nine",
            "Six minus two": "four",
            "Seven minus six": "one",
            "Eight minus five": "three",
            "Two plus four": "six",
            "Ten minus eight": "two",
            "Five plus five": "ten",
            "Nine minus nine": "zero",
            "Three plus two": "five",
        },
    ),
    controls=("capitals", "opposites", "repeat", "past_tense"),
)

_MONTHS = ConceptSet(
    name="months",
    words=_split(
        "January February March April May June July August September October "
        "November December"
    ),
    prompts=_fill(
        (
            "The month after February is March. The month after {x} is",
            "The month before December is November. The month before {x} is",
        ),
        ("March", "May", "July", "September", "November"),
    )
    + (
        "Halloween is celebrated every year in",
        "New Year's Day is the first day of",
        "Valentine's Day is in",
        "In the northern hemisphere summer starts in",
        "The first month of the year is",
        "The last month of the year is",
        "The school year usually starts in",
        "My birthday is in the month of",
        "Spring begins in the month of",
        "The coldest month of the year is usually",
    ),
    questions=_pairs(
        "The month after January is February. The month after {x} is",
        {
            "February": "March",
            "April": "May",
            "June": "July",
            "August": "September",
            "October": "November",
            "December": "January",
        },
    )
    + _pairs(
        "The month before March is February. The month before {x} is",
        {
            "June": "May",
            "August": "July",
            "October": "September",
            "April": "March",
            "November": "October",
            "February": "January",
        },
    ),
)

_ANIMALS = ConceptSet(
    name="animals",
    words=_split(
        "dog cat horse cow pig sheep lion tiger bear wolf fox mouse rabbit bird "
        "fish duck chicken goat monkey elephant snake frog owl eagle whale shark "
        "bee ant deer camel"
    ),
    prompts=(
        "At the zoo we saw a lion and a",
        "On the farm there was a cow and a",
        "In the pond there was a duck and a",
        "The dog chased the",
        "The cat chased the",
        "In the forest we saw a bear and a",
        "The animal that gives us milk is a cow. The animal that neighs is a",
        "The animal that quacks is a duck. The animal that oinks is a",
        "The biggest animal in the ocean is the",
        "The king of the jungle is the",
        "A baby sheep is called a lamb and its mother is a",
        "Honey is made by the",
        "The animal with black and white stripes is the",
        "The animal with a very long neck is the",
        "The bird that hoots at night is the",
        "The animal that carries its house on its back is the",
        "Milk comes from the",
        "Wool comes from the",
        "The fastest land animal is the",
        "The animal that hops and has a pouch is the",
    ),
    questions=_pairs(
        "The animal that purrs is a cat. The animal that {x} is a",
        {
            "barks": "dog",
            "moos": "cow",
            "oinks": "pig",
            "roars": "lion",
            "quacks": "duck",
            "neighs": "horse",
            "hisses": "snake",
            "croaks": "frog",
            "bleats": "sheep",
            "buzzes": "bee",
            "hoots": "owl",
            "squeaks": "mouse",
        },
    ),
)

_FAMILY = ConceptSet(
    name="family",
    words=_split(
        "mother father sister brother son daughter aunt uncle cousin grandmother "
        "grandfather wife husband nephew parent child mom dad"
    ),
    prompts=(
        "My father's father is my grandfather. My mother's father is my",
        "My mother's mother is my grandmother. My father's mother is my",
        "My mother's sister is my aunt. My mother's brother is my",
        "My uncle's son is my cousin. My aunt's daughter is my",
        "My brother's son is my nephew. My sister's son is my",
        "My parents' daughter is my sister. My parents' son is my",
        "She is married to him, so he is her",
        "He is married to her, so she is his",
        "A man's female child is his",
        "A woman's male child is her",
        "My mother's husband is my",
        "My father's wife is my",
        "The children of my aunt are my",
        "The sister of my mother is my",
        "The brother of my father is my",
        "The daughter of my sister is my",
        "At the wedding the bride kissed her new",
        "The baby cried and was picked up by her",
        "He called his mother, his father and his little",
        "For dinner we visited my grandmother and my",
    ),
    questions=(
        ("My father's sister is my aunt. My mother's sister is my", "aunt"),
        ("My father's sister is my aunt. My mother's brother is my", "uncle"),
        ("My father's sister is my aunt. My uncle's son is my", "cousin"),
        ("My father's sister is my aunt. My father's father is my", "grandfather"),
        ("My father's sister is my aunt. My mother's mother is my", "grandmother"),
        ("My father's sister is my aunt. My sister's son is my", "nephew"),
        ("My father's sister is my aunt. My aunt's son is my", "cousin"),
        ("My father's sister is my aunt. My mother's husband is my", "father"),
        ("My father's sister is my aunt. My father's wife is my", "mother"),
        ("My father's sister is my aunt. My parents' son is my", "brother"),
        ("My father's sister is my aunt. My parents' daughter is my", "sister"),
        ("My father's sister is my aunt. My father's brother is my", "uncle"),
    ),
)

_EMOTIONS = ConceptSet(
    name="emotions",
    words=_split(
        "happy sad angry afraid scared proud excited nervous lonely calm "
        "surprised jealous bored anxious worried glad upset joy fear anger "
        "sorrow love hate shame guilt"
    ),
    prompts=(
        "When she won the race she felt",
        "When his dog died he felt very",
        "When someone broke his toy he was",
        "Alone in the dark house at night, she was",
        "After the exam he was nervous. When he passed he was",
        "When nobody came to her party she felt",
        "On the morning of her wedding she was",
        "When the thunder crashed the child was",
        "He was so proud of his son. His son was",
        "Emotions like joy and fear are feelings. Another feeling is",
        "Seeing her friend get the prize she wanted, she felt",
        "With nothing to do all day he was",
        "When he lied to his mother he felt",
        "The music was slow and the movie ending made me",
        "She smiled and laughed because she was",
        "He clenched his fists and shouted because he was",
        "When the spider crawled onto her arm she was",
        "Waiting for the test results made him",
        "The surprise party made her feel",
        "Losing the game made the team feel",
    ),
    questions=_pairs(
        "When she got a present she felt happy. When {x} he felt",
        {
            "his dog died": "sad",
            "someone stole his bike": "angry",
            "he saw a ghost": "scared",
            "he won the lottery": "happy",
            "his son graduated": "proud",
            "his friends forgot him": "sad",
            "the bully hit him": "angry",
            "he heard a noise in the dark": "afraid",
            "he lost his job": "sad",
            "he got a puppy": "happy",
            "the lion roared at him": "scared",
            "he passed the exam": "happy",
        },
    ),
)

_PROFESSIONS = ConceptSet(
    name="professions",
    words=_split(
        "doctor teacher nurse farmer chef cook pilot lawyer baker dentist police "
        "officer engineer artist singer writer driver carpenter scientist soldier "
        "judge mechanic painter"
    ),
    prompts=(
        "A person who grows food on a farm is a",
        "The person who flies the airplane is the",
        "My tooth hurt so I went to the",
        "The person who teaches children at school is a",
        "The house was on fire so we called a",
        "In the restaurant the food is cooked by the",
        "When you are sick you should see a",
        "In court the case was decided by the",
        "The pipes were leaking so we called a",
        "The person who fixes cars is a",
        "The person who brings your food in a restaurant is a",
        "She writes books, she is a",
        "He builds wooden tables and chairs, he is a",
        "In the hospital the patient was helped by a",
        "He designs bridges, he is an",
        "She sings songs on stage, she is a",
        "The thief was arrested by the",
        "A person who works in a laboratory is a",
        "The person who drives the bus is the",
        "A person who makes bread is a",
    ),
    questions=_pairs(
        "A person who teaches is a teacher. A person who {x} is a",
        {
            "bakes bread": "baker",
            "flies planes": "pilot",
            "treats sick people": "doctor",
            "fixes teeth": "dentist",
            "grows crops": "farmer",
            "cooks in a restaurant": "chef|cook",
            "drives a taxi": "driver",
            "paints pictures": "painter|artist",
            "sings songs": "singer",
            "writes books": "writer",
            "repairs cars": "mechanic",
            "decides cases in court": "judge",
        },
    ),
)

_CONTROLS = {
    "capitals": ControlTask(
        "capitals",
        _pairs(
            "The capital of Italy is Rome. The capital of {x} is",
            {
                "France": "Paris",
                "Germany": "Berlin",
                "Spain": "Madrid",
                "Japan": "Tokyo",
                "Russia": "Moscow",
                "Egypt": "Cairo",
                "Canada": "Ottawa",
                "Greece": "Athens",
                "Poland": "Warsaw",
                "England": "London",
                "Portugal": "Lisbon",
                "Austria": "Vienna",
            },
        ),
    ),
    "opposites": ControlTask(
        "opposites",
        _pairs(
            "The opposite of up is down. The opposite of {x} is",
            {
                "hot": "cold",
                "big": "small",
                "fast": "slow",
                "open": "closed",
                "early": "late",
                "high": "low",
                "wet": "dry",
                "full": "empty",
                "hard": "soft",
                "long": "short",
                "rich": "poor",
                "in": "out",
            },
        ),
    ),
    "repeat": ControlTask(
        "repeat",
        tuple(
            (f"Repeat each word. cup: cup. sun: sun. {w}:", w)
            for w in (
                "table chair window bottle pencil garden bridge river mountain "
                "candle rocket ladder"
            ).split()
        ),
    ),
    "plural": ControlTask(
        "plural",
        tuple(
            (f"One cup, two cups. One {w}, two", w + "s")
            for w in (
                "book car tree house shoe key lamp spoon door plate coin hat"
            ).split()
        ),
    ),
    "past_tense": ControlTask(
        "past_tense",
        _pairs(
            "Today I walk, yesterday I walked. Today I {x}, yesterday I",
            {
                "jump": "jumped",
                "play": "played",
                "eat": "ate",
                "run": "ran",
                "write": "wrote",
                "see": "saw",
                "go": "went",
                "sing": "sang",
                "swim": "swam",
                "talk": "talked",
                "drink": "drank",
                "sleep": "slept",
            },
        ),
    ),
}

_ALL = {
    c.name: c
    for c in (
        _COLOURS,
        _COUNTRIES,
        _NUMBERS,
        _MONTHS,
        _ANIMALS,
        _FAMILY,
        _EMOTIONS,
        _PROFESSIONS,
    )
}

#: Names of the shipped concepts.
CONCEPTS: tuple[str, ...] = tuple(_ALL)
#: Names of the shipped control tasks.
CONTROL_TASKS: tuple[str, ...] = tuple(_CONTROLS)


def load_concept(name: str) -> ConceptSet:
    """One of the shipped concept sets (see ``CONCEPTS``).

    Parameters
    ----------
    name : str
        ``"colours"``, ``"countries"``, ``"numbers"``, ``"months"``, ``"animals"``,
        ``"family"``, ``"emotions"`` or ``"professions"``.

    Returns
    -------
    ConceptSet

    Examples
    --------
    >>> from skres.interpretability import load_concept
    >>> colours = load_concept("colours")
    >>> len(colours.prompts), colours.questions[0]
    (32, ('Bananas are yellow and sunflowers are', 'yellow'))
    """
    if name not in _ALL:
        raise ValueError(f"name must be one of {CONCEPTS}; got {name!r}.")
    return _ALL[name]


def load_control_task(name: str) -> ControlTask:
    """One of the shipped control tasks (see ``CONTROL_TASKS``).

    Parameters
    ----------
    name : str
        ``"capitals"``, ``"opposites"`` or ``"repeat"`` (copy a word).

    Returns
    -------
    ControlTask
    """
    if name not in _CONTROLS:
        raise ValueError(f"name must be one of {CONTROL_TASKS}; got {name!r}.")
    return _CONTROLS[name]


def load_reference_prompts(
    exclude: str | tuple[str, ...] | None = None, *, step: int = 4
) -> tuple[str, ...]:
    """Prompts unrelated to a concept: the other shipped concepts' training prompts.

    Every ``step``-th training prompt of every shipped concept except
    ``exclude``; for :func:`~skres.interpretability.measure_head_specificity`
    (what editing a head does to the model's answers elsewhere). They never
    overlap the held-out questions or the control tasks.

    Parameters
    ----------
    exclude : str or tuple of str, default=None
        Concept names to leave out (the concept being edited).
    step : int, default=4

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> from skres.interpretability import load_concept, load_reference_prompts
    >>> prompts = load_reference_prompts(exclude="colours")
    >>> len(prompts), set(prompts) & set(load_concept("colours").prompts)
    (35, set())
    """
    excluded = (exclude,) if isinstance(exclude, str) else tuple(exclude or ())
    unknown = [name for name in excluded if name not in _ALL]
    if unknown:
        raise ValueError(
            f"exclude must name shipped concepts {CONCEPTS}; got {unknown}."
        )
    if not isinstance(step, int) or isinstance(step, bool) or step < 1:
        raise ValueError(f"step must be a positive int; got {step!r}.")
    return tuple(
        prompt
        for name, concept in _ALL.items()
        if name not in excluded
        for prompt in concept.prompts[::step]
    )
