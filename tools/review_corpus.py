"""Texts for the review model's training and held-out speech (written for this purpose).

Two disjoint pools: TRAIN and HELDOUT have their own plain sentences, templates and names,
so the held-out split tests words and phrasings the fit never saw. Templates bring the
vocabulary Whisper gets wrong most: surnames, places, companies, jargon and numbers.
Numbers are written as digits and amounts as "N dollars": Whisper's English normalizer
maps both the digits and their spoken forms onto the same text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Pool:
    """Sentences, templates with {slots}, and the words that fill the slots."""

    plain: tuple[str, ...]
    templates: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]


TRAIN = Pool(
    plain=(
        "Yes.",
        "Hold on a second.",
        "That sounds fine to me.",
        "Could you say that again, please?",
        "We should leave before the traffic gets worse.",
        "The printer on the second floor is out of paper again.",
        "I think the delivery arrived while you were at lunch.",
        "Nobody expected the river to rise so quickly after the storm.",
        "She folded the map, put it in her pocket and walked toward the station.",
        "If the numbers do not add up, we will have to start the audit from the beginning.",
        "Honestly, I have no idea where the spare keys went.",
        "The garden needs water every evening during the summer months.",
        "Please remember to switch off the lights when you leave the lab.",
        "The committee will publish its findings at the end of the quarter.",
        "Our neighbours adopted a very loud puppy last week.",
        "The bakery on the corner sells out of rye bread by nine o'clock.",
        "After the lecture, a few students stayed behind to ask questions about the exam.",
        "Right, let us move on to the next item.",
        "The bridge over the canal was repainted in a dark shade of green.",
        "I would rather take the train than drive through the mountains at night.",
        "He spent the whole weekend repairing the roof of the shed.",
        "The contract must be signed by both parties before any work begins.",
        "Thanks, that is really helpful.",
        "Most of the volunteers arrived early and started setting up the tables.",
        "The museum is closed on Mondays, except during the school holidays.",
        "Keep the receipt in case the jacket does not fit.",
        "The forecast promised sunshine, but it rained from morning until night.",
        "We ran out of coffee halfway through the meeting, which did not help anyone's mood.",
        "Turn left at the petrol station and follow the signs to the hospital.",
        "Absolutely not.",
        "The software update fixed the crash but made the battery drain faster.",
        "My grandmother still writes letters by hand and sends them by post.",
        "The hikers reached the summit just as the clouds lifted.",
        "Let me check my calendar and get back to you tomorrow.",
        "A thin layer of ice covered the pond in the park.",
        "The kids built a fort out of cardboard boxes and old blankets.",
        "Without a clear plan, the renovation could easily take twice as long and cost far more than anyone budgeted.",
        "The orchestra tuned their instruments while the audience found their seats.",
        "I am afraid the manager is not available this afternoon.",
        "We could hear the waves crashing against the rocks all night long.",
    ),
    templates=(
        "My name is {first} {surname} and I work at {company}.",
        "Please forward the invoice to {first} {surname} before Friday.",
        "The flight to {place} leaves at {hour} from gate {number}.",
        "Our revenue grew by {number} percent in {year}.",
        "The patient was prescribed {drug} for {condition}.",
        "{first} said the {jargon} would be ready in {number} days.",
        "The warehouse in {place} shipped {big} units last month.",
        "Dr. {surname} will present the results on {month} {day}.",
        "The ticket costs {number} dollars, or {big} dollars for the whole year.",
        "I spoke with {first} from {company} about the {jargon}.",
        "Between {year} and {year2}, the population of {place} nearly doubled.",
        "Call {first} {surname} on extension {big}.",
        "The {jargon} failed after {number} hours, so {first} restarted it.",
        "Professor {surname} studies {condition} in {place}.",
        "We ordered {number} boxes of {drug} from {company}.",
        "Meet me outside the {company} office in {place}.",
        "The report by {first} {surname} covers {year} to {year2}.",
        "Room {big} is booked for the {jargon} review.",
        "{surname} and {surname2} merged their firms in {year}.",
        "The recipe from {first} needs {number} grams of {drug}.",
        "Send the samples to {company}, attention {first} {surname}, in {place}.",
        "On {month} {day}, {first} ran {number} kilometres.",
    ),
    slots={
        "first": (
            "Siobhan",
            "Oluwaseun",
            "Bartholomew",
            "Xiomara",
            "Declan",
            "Anneliese",
            "Kwame",
            "Tomasz",
            "Priya",
            "Ingrid",
            "Aurelio",
            "Niamh",
            "Thandiwe",
            "Ruairi",
            "Esperanza",
            "Wojciech",
        ),  # fmt: skip
        "surname": (
            "McWhorter",
            "Szczepanski",
            "Featherstonehaugh",
            "Okonkwo",
            "Abernathy",
            "Kowalczyk",
            "Delacroix",
            "Thistlewood",
            "Ramachandran",
            "Vasquez",
            "Nakamura",
            "Fairweather",
            "Ebbesen",
            "Quigley",
        ),  # fmt: skip
        "company": (
            "Zentrix Logistics",
            "Quorvane Analytics",
            "Halbrook and Finch",
            "Pellucid Systems",
            "Marrowby Foods",
            "Oxbridge Capital",
            "Velloran Pharma",
            "Kestrel Dynamics",
        ),  # fmt: skip
        "place": (
            "Loughborough",
            "Schenectady",
            "Ouagadougou",
            "Reykjavik",
            "Kalamazoo",
            "Worcestershire",
            "Llandudno",
            "Tegucigalpa",
            "Poughkeepsie",
            "Gdansk",
        ),  # fmt: skip
        "drug": ("ibuprofen", "metformin", "amoxicillin", "atorvastatin", "levothyroxine", "saffron", "cardamom"),
        "condition": ("hypertension", "tachycardia", "anaphylaxis", "osteoporosis", "dyslexia"),
        "jargon": (
            "Kubernetes cluster",
            "amortization schedule",
            "idempotent endpoint",
            "hyperparameter sweep",
            "photovoltaic array",
            "quarterly forecast",
            "load balancer",
            "regression suite",
        ),  # fmt: skip
        "month": ("January", "March", "April", "August", "October", "December"),
    },
)

HELDOUT = Pool(
    plain=(
        "No.",
        "Give me a minute.",
        "The parcel was left outside in the rain.",
        "Would you mind closing the window?",
        "The old lighthouse keeper kept a diary for forty years.",
        "Every evening the fishermen mended their nets on the quay.",
        "I still cannot believe we missed the last bus home.",
        "The laboratory results came back sooner than we expected.",
        "Our team lost the final, but everyone played their hearts out.",
        "The landlord promised to fix the heating before winter, but nothing has happened yet.",
        "Put the heavy boxes at the bottom and the fragile ones on top.",
        "Sure, go ahead.",
        "The choir rehearses in the church hall every Thursday evening.",
        "He spilled tea all over the contract five minutes before the signing.",
        "When the power went out, we played cards by candlelight until midnight.",
        "The new library has a café, a reading garden and a room full of old maps.",
        "Fine, we will do it your way.",
        "A fox ran across the road and disappeared into the hedge.",
    ),
    templates=(
        "This is {first} {surname} calling from {company}.",
        "The train to {place} departs at {hour} from platform {number}.",
        "Sales fell by {number} percent in {year}.",
        "{first} was treated with {drug} for {condition}.",
        "The {jargon} in {place} handled {big} requests yesterday.",
        "Ms. {surname} booked {number} rooms for {month} {day}.",
        "Please ask {first} at {company} about the {jargon}.",
        "From {year} to {year2}, {surname} ran the office in {place}.",
    ),
    slots={
        "first": ("Eilidh", "Chiamaka", "Leopold", "Saoirse", "Mateusz", "Yolanda", "Anwar", "Briony"),
        "surname": ("Cholmondeley", "Przybylski", "Adeyemi", "Urquhart", "Wojcik", "Grosvenor", "Haverkamp"),
        "company": ("Brightwater Insurance", "Calloway Textiles", "Nordvik Maritime", "Ashgrove Legal"),
        "place": ("Aberystwyth", "Albuquerque", "Bratislava", "Chattanooga", "Greenwich", "Mississauga"),
        "drug": ("paracetamol", "prednisolone", "omeprazole", "warfarin"),
        "condition": ("bronchitis", "arrhythmia", "psoriasis", "gastritis"),
        "jargon": ("message queue", "depreciation schedule", "caching layer", "procurement workflow"),
        "month": ("February", "May", "June", "September", "November"),
    },
)


def sentence(pool: Pool, rng: random.Random, template_share: float = 0.35) -> str:
    """One sentence: a plain one, or a template with its slots filled (numbers drawn fresh)."""
    if rng.random() >= template_share:
        return rng.choice(pool.plain)
    first, second = rng.sample(sorted(pool.slots["surname"]), 2)
    values = {key: rng.choice(words) for key, words in pool.slots.items()}
    year = rng.randint(1890, 2030)
    values.update(
        surname=first,
        surname2=second,
        number=str(rng.randint(2, 99)),
        big=str(rng.choice((rng.randint(100, 999), rng.randint(1000, 9999)))),
        year=str(year),
        year2=str(year + rng.randint(3, 40)),
        day=str(rng.randint(1, 28)),
        hour=f"{rng.randint(1, 12)} o'clock",  # clock times like 7:30 normalize differently per spelling
    )
    return rng.choice(pool.templates).format(**values)
