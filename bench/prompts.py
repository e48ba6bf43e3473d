"""The benchmark's inputs, all deterministic so two runs (and the baseline and the worker) see the same text.

Story openings are raw-text prompts (the `prompt` form, no chat template): the model's continuation of a
story rarely ends before 128 tokens, so every side decodes the full 128 (the report checks the counts). Each
opening starts with a different word so that no two share more than a token or two of prefix: the worker
reuses a slot's history (longest common prefix), and a repeated prompt would skip its prefill and beat the
baseline unfairly.
"""

# Used once per side before anything is timed (first-call costs: page faults, graph allocation).
WARMUP = (
    "Quentin repaired clocks in a narrow shop at the end of Harbour Street, and every clock he fixed ran exactly "
    "seven minutes fast. Nobody knew why, until one winter evening"
)

# One per single-stream repetition; the baseline and the worker get the same one in the same repetition.
SINGLE = [
    "Marigold had kept the lighthouse on Gull Rock for thirty years and had never seen a ship sail backwards, "
    "until the night of the great storm. She grabbed her lantern, pulled on her boots and",
    "Three days after the river froze, the children of Millbrook found a door standing alone in the middle of the "
    "ice. It had no walls around it, only a brass handle that was warm to the touch. Tobias reached out and",
    "Captain Elena Vasquez woke to silence. The engines of the research vessel had stopped during the night, the "
    "radio gave only static, and the sea around them had turned the colour of milk. She climbed to the bridge and",
    "Walter had delivered letters in the village of Ashcombe for forty years, and he knew every door by heart. So "
    "when he found an envelope addressed to a house that did not exist, he frowned, checked his map and",
    "Under a sky full of purple clouds, the twins Mira and Theo climbed the hill behind their grandfather's farm to "
    "look for the shooting star they had seen fall the night before. Near the top they found",
]

# Four per concurrent repetition, never used elsewhere.
CONCURRENT = [
    [
        "Beneath the old library in Prague there was a room that appeared only on Tuesdays. Anna discovered it by "
        "accident while looking for a lost book about clockwork birds, and when she opened the door",
        "Oliver was the only baker in the mountain village who worked at night. Every morning the villagers found "
        "his bread still warm on their doorsteps, but nobody had ever seen him. One evening, young Petra decided",
        "When the robot gardener of Station Nine began planting flowers that nobody had ordered, the engineers "
        "laughed at first. Then the flowers started to glow, and the chief engineer, Dr. Okafor,",
        "Rain had fallen on the desert town of Sandrock for the first time in a hundred years, and with it came a "
        "stranger in a grey coat who carried an umbrella made of glass. The sheriff watched him walk past and",
    ],
    [
        "Grandmother Ito kept a jar of starlight on her kitchen shelf, and she told the children never to open it. "
        "But on the night of the summer festival, while the adults were dancing in the square, Kenji",
        "Deep in the Amazon, a team of botanists found a tree whose leaves wrote messages in a language nobody "
        "could read. The youngest of them, a linguist named Sofia, sat beneath it for three days and",
        "Fifteen floors below the city streets, the subway train that had vanished in 1962 pulled into the station "
        "right on schedule. The doors opened with a hiss, and the conductor, wearing a faded uniform,",
        "Lady Amelia Thornbury had solved forty-two mysteries, but she had never been asked to find a missing "
        "mountain. The letter arrived on a Monday morning, sealed with green wax, and it said",
    ],
    [
        "Pip was the smallest dragon in the valley, too small to fly and too shy to breathe fire. The other dragons "
        "laughed at him, so he spent his days in the library of the old wizard, where he",
        "Somewhere between Mars and Jupiter, the mining ship Persistence picked up a signal that repeated the same "
        "nine notes over and over. The pilot, a quiet woman named Ruth, turned the ship toward it and",
        "Hector inherited his uncle's farm, a crooked house, and a goat that could predict the weather. For the "
        "first week he did not believe it, but when the goat refused to leave the barn one sunny morning,",
        "Across the frozen tundra, a lone fox followed a trail of blue footprints that glowed faintly in the dark. "
        "They led to a cave where an old woman sat by a fire, and she said to the fox,",
    ],
    [
        "Jasper opened the music box he had bought at the flea market, and instead of a tune it played the sound of "
        "waves and distant voices calling his name. That night he could not sleep, so he",
        "Nobody in the city of Verdant remembered who had built the enormous iron gate in the park, or why it was "
        "always locked. Then one spring morning a girl named Lucia found the key in her soup, and",
        "Kira was the best pilot in the orbital rescue fleet, but she had never flown into the heart of a storm on "
        "Neptune. The distress call came at midnight, faint and broken, and she",
        "Every autumn the geese that flew over Willow Creek spelled a single word in the sky. This year the word was "
        "HELP, and old Mr. Barnaby, who had watched them for sixty years, put down his tea and",
    ],
    [
        "Yusuf found a small brass robot in the attic of his new house. It was covered in dust and missing one arm, "
        "but when he wound the key in its back, it opened its eyes and said",
        "Zelda ran the only bookshop on the moon base, and most days nobody came in. So she was surprised when a "
        "tall man in an old-fashioned suit walked through the door, asked for a book that had not been written yet, and",
        "Once every hundred years the great tortoise of the eastern islands woke up and walked to the sea. The "
        "villagers had prepared a festival, but this time the tortoise turned the other way and",
        "Ivy had always been told that the forest behind the school was ordinary, but on the first day of winter she "
        "saw a light moving between the trees, slow and golden, and she followed it until",
    ],
]

# More openings than were written by hand, built from word lists; each starts with its own name.
_NAMES = [
    "Aurelio", "Bettina", "Cosmo", "Dagny", "Emeric", "Fenna", "Gideon", "Hattie", "Ignatius", "Juno", "Kasimir",
    "Leonie", "Magnus", "Nadia", "Orson", "Paloma", "Rasmus", "Saskia", "Thaddeus", "Ursula", "Viggo",
    "Wilhelmina",
]
_JOBS = ["ferryman", "glassblower", "cartographer", "beekeeper", "radio operator", "tailor", "astronomer"]
_PLACES = [
    "a fishing town on a grey northern coast", "a city built on the back of a sleeping giant",
    "a village at the bottom of a dry lake", "a station on the far side of the moon", "a harbour on an island that drifted every winter",
]
_EVENTS = [
    "a letter arrived with no stamp and no sender", "every bell in the town began to ring at once",
    "a stranger asked for directions to a street that had been gone for a century",
    "the shadows started pointing toward the sea", "a small blue bird followed them home and would not leave",
    "the river ran backwards for exactly one hour",
]


def generated_opening(i: int) -> str:
    name = _NAMES[i]
    return (f"{name} worked as a {_JOBS[i % len(_JOBS)]} in {_PLACES[i % len(_PLACES)]}. Nothing unusual ever "
            f"happened there, until one quiet evening {_EVENTS[i % len(_EVENTS)]}. {name} put on a coat and")


# 9 repetitions: the hand-written openings first, then generated ones.
_extra = [generated_opening(i) for i in range(len(_NAMES))]
SINGLE = SINGLE + _extra[:4]
CONCURRENT = CONCURRENT + [_extra[4 + 4 * k: 8 + 4 * k] for k in range(4)]


# The long system prompt for the reuse measurement: an operations handbook of numbered rules, each sentence
# built from rotating word lists so the text is varied (a real prompt, not one line repeated) yet always the
# same. RULES was chosen so the rendered chat prompt comes to about 1,200 tokens with SmolLM2's tokenizer.
RULES = 37

_COMPONENTS = [
    "temperature sensor", "fan controller", "power supply", "network link", "storage volume", "camera feed",
    "battery pack", "NPU driver", "memory monitor", "clock source", "serial console",
]
_CONDITIONS = [
    "a reading outside its normal range", "an intermittent fault", "a sudden drop in throughput",
    "a configuration change", "a firmware mismatch", "repeated timeouts", "an unexpected restart",
]
_ACTIONS = [
    "summarise the last five log lines", "suggest one safe diagnostic command", "ask which revision of the board is in use",
    "recommend checking the cable first", "explain the likely cause in one sentence", "propose a rollback to the last known good state",
    "remind the operator to save their work",
]
_DETAILS = [
    "the expected value", "the time of the last successful check", "how to undo the change",
    "whether a reboot is needed", "the relevant manual section", "the risk of data loss",
    "the name of the service involved", "what to monitor afterwards",
]


def system_prompt() -> str:
    intro = (
        "You are the maintenance assistant for a fleet of small edge computers installed in remote weather "
        "stations. Operators contact you when something looks wrong. Follow the rules below in order, keep "
        "answers short and practical, and never invent measurements you were not given."
    )
    rules = []
    for i in range(RULES):
        rules.append(
            f"Rule {i + 1}: when the {_COMPONENTS[i % len(_COMPONENTS)]} reports "
            f"{_CONDITIONS[(i * 3) % len(_CONDITIONS)]}, {_ACTIONS[(i * 5) % len(_ACTIONS)]} "
            f"and mention {_DETAILS[(i * 7) % len(_DETAILS)]}."
        )
    outro = "If no rule applies, say so plainly and ask one clarifying question."
    return "\n".join([intro, *rules, outro])


# The first question runs cold (fresh worker) and on the preset worker; the others run warm, after it.
QUESTIONS = [
    "The fan controller on station 14 restarted twice this morning. What should I check?",
    "Our camera feed keeps freezing every few minutes. Any idea why?",
    "The battery pack shows 3.1 volts per cell. Is that a problem?",
    "After yesterday's update the network link is slow. What now?",
]
