#!/usr/bin/python3
"""Deterministic generator of the English->German demo task (numbers + simple sentences).

Conventions (the demo model is trained on exactly these):

* Numbers 0..999999 ("bare number phrases"): no capital letter, no final period, on both sides.
    English: lowercase words, single spaces, no "and", no hyphens:
        342105 -> "three hundred forty two thousand one hundred five", 21 -> "twenty one", 0 -> "zero".
    German: one word, standard spelling with ß/ü, "ein-" inside compounds, "eins" when it ends the number,
        hundreds and thousands always with their multiplier:
        1 -> "eins", 101 -> "einhunderteins", 101000 -> "einhunderteintausend", 0 -> "null".
* Sentences: first letter capitalised and a final period on both sides ("The dog sees the cat." ->
  "Der Hund sieht die Katze."). German nouns are capitalised; English "I" is always capitalised,
  German "ich" only at the start of a sentence. Counts inside sentences use the number speller
  (English words, German one word: "twenty one red cats" -> "einundzwanzig rote Katzen").

Noun phrases have at most one adjective; counts inside sentences are 2..99.
The grammar covers noun gender and case (der/die/das, den/dem, weak nouns like "den Jungen"),
adjective endings after definite / indefinite / possessive articles and without article (counts),
plurals with counts, dative plural -n, verb agreement (ich/du/er/wir/sie, stem changes like
sieht/siehst), verb-second order after a fronted adverb, personal pronouns in nominative,
accusative and dative, prepositions with accusative or dative (and the contractions im/vom/zum/zur),
ditransitive verbs (dative + accusative) and copula + predicative adjective.

Held-out sets (never in training):
* numbers: 2000 numbers drawn (from the seed) among 1000..999999; training never contains them.
* sentences: a fixed random subset of (adjective, noun) pairs and of (subject, verb, object) head
  triples is held out; no training sentence contains any of them, and every held-out sentence
  contains at least one.

Usage:
  tools/gen_data.py --self-test
  tools/gen_data.py --seed 1 --numbers 1000 --sentences 1000 > train.tsv     (english<TAB>german)
  tools/gen_data.py --seed 1 --heldout-dir tests/data                          (heldout-*.tsv)
"""
import argparse
import random
import sys

# ----------------------------------------------------------------------------------------------
# Numbers
EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
           "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
           "nineteen"]
EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
DE_UNITS = ["", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]
DE_TEENS = ["zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn",
            "achtzehn", "neunzehn"]
DE_TENS = ["", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig"]


def _en_below_100(n):
    if n < 20:
        return EN_ONES[n]
    t, u = divmod(n, 10)
    return EN_TENS[t] + ("" if u == 0 else " " + EN_ONES[u])


def _en_below_1000(n):
    h, r = divmod(n, 100)
    parts = []
    if h:
        parts.append(EN_ONES[h] + " hundred")
    if r:
        parts.append(_en_below_100(r))
    return " ".join(parts)


def en_number(n):
    """English words for 0 <= n <= 999999."""
    if not 0 <= n <= 999999:
        raise ValueError(n)
    if n == 0:
        return "zero"
    th, r = divmod(n, 1000)
    parts = []
    if th:
        parts.append(_en_below_1000(th) + " thousand")
    if r:
        parts.append(_en_below_1000(r))
    return " ".join(parts)


def _de_below_100(n, final):
    if n == 1:
        return "eins" if final else "ein"
    if n < 10:
        return DE_UNITS[n]
    if n < 20:
        return DE_TEENS[n - 10]
    t, u = divmod(n, 10)
    if u == 0:
        return DE_TENS[t]
    return ("ein" if u == 1 else DE_UNITS[u]) + "und" + DE_TENS[t]


def _de_below_1000(n, final):
    h, r = divmod(n, 100)
    s = ""
    if h:
        s = ("ein" if h == 1 else DE_UNITS[h]) + "hundert"
    if r:
        s += _de_below_100(r, final)
    return s


def de_number(n):
    """German number word for 0 <= n <= 999999."""
    if not 0 <= n <= 999999:
        raise ValueError(n)
    if n == 0:
        return "null"
    th, r = divmod(n, 1000)
    s = ""
    if th:
        s = _de_below_1000(th, False) + "tausend"
    if r:
        s += _de_below_1000(r, True)
    return s


NUMBER_EXAMPLES_EN = {342105: "three hundred forty two thousand one hundred five", 21: "twenty one",
                      100: "one hundred", 0: "zero"}
NUMBER_EXAMPLES_DE = {1: "eins", 21: "einundzwanzig", 100: "einhundert", 101: "einhunderteins",
                      121: "einhunderteinundzwanzig", 1000: "eintausend", 1001: "eintausendeins",
                      21000: "einundzwanzigtausend", 101000: "einhunderteintausend",
                      700007: "siebenhunderttausendsieben", 0: "null", 17: "siebzehn", 30: "dreißig",
                      60: "sechzig", 70: "siebzig"}

# ----------------------------------------------------------------------------------------------
# Lexicon
# nouns: english singular, english plural, german singular, german plural, gender, weak-noun suffix
NOUNS = [
    ("dog", "dogs", "Hund", "Hunde", "m", ""), ("man", "men", "Mann", "Männer", "m", ""),
    ("table", "tables", "Tisch", "Tische", "m", ""), ("chair", "chairs", "Stuhl", "Stühle", "m", ""),
    ("bird", "birds", "Vogel", "Vögel", "m", ""), ("tree", "trees", "Baum", "Bäume", "m", ""),
    ("apple", "apples", "Apfel", "Äpfel", "m", ""), ("letter", "letters", "Brief", "Briefe", "m", ""),
    ("teacher", "teachers", "Lehrer", "Lehrer", "m", ""), ("friend", "friends", "Freund", "Freunde", "m", ""),
    ("father", "fathers", "Vater", "Väter", "m", ""), ("brother", "brothers", "Bruder", "Brüder", "m", ""),
    ("son", "sons", "Sohn", "Söhne", "m", ""), ("ball", "balls", "Ball", "Bälle", "m", ""),
    ("key", "keys", "Schlüssel", "Schlüssel", "m", ""), ("garden", "gardens", "Garten", "Gärten", "m", ""),
    ("hat", "hats", "Hut", "Hüte", "m", ""), ("cook", "cooks", "Koch", "Köche", "m", ""),
    ("doctor", "doctors", "Arzt", "Ärzte", "m", ""), ("king", "kings", "König", "Könige", "m", ""),
    ("boy", "boys", "Junge", "Jungen", "m", "n"), ("bear", "bears", "Bär", "Bären", "m", "en"),
    ("lion", "lions", "Löwe", "Löwen", "m", "n"), ("stone", "stones", "Stein", "Steine", "m", ""),
    ("cat", "cats", "Katze", "Katzen", "f", ""), ("woman", "women", "Frau", "Frauen", "f", ""),
    ("flower", "flowers", "Blume", "Blumen", "f", ""), ("door", "doors", "Tür", "Türen", "f", ""),
    ("lamp", "lamps", "Lampe", "Lampen", "f", ""), ("bag", "bags", "Tasche", "Taschen", "f", ""),
    ("mouse", "mice", "Maus", "Mäuse", "f", ""), ("city", "cities", "Stadt", "Städte", "f", ""),
    ("school", "schools", "Schule", "Schulen", "f", ""), ("cow", "cows", "Kuh", "Kühe", "f", ""),
    ("newspaper", "newspapers", "Zeitung", "Zeitungen", "f", ""), ("cup", "cups", "Tasse", "Tassen", "f", ""),
    ("bottle", "bottles", "Flasche", "Flaschen", "f", ""), ("sister", "sisters", "Schwester", "Schwestern", "f", ""),
    ("mother", "mothers", "Mutter", "Mütter", "f", ""), ("daughter", "daughters", "Tochter", "Töchter", "f", ""),
    ("house", "houses", "Haus", "Häuser", "n", ""), ("child", "children", "Kind", "Kinder", "n", ""),
    ("book", "books", "Buch", "Bücher", "n", ""), ("horse", "horses", "Pferd", "Pferde", "n", ""),
    ("car", "cars", "Auto", "Autos", "n", ""), ("window", "windows", "Fenster", "Fenster", "n", ""),
    ("picture", "pictures", "Bild", "Bilder", "n", ""), ("girl", "girls", "Mädchen", "Mädchen", "n", ""),
    ("egg", "eggs", "Ei", "Eier", "n", ""), ("ship", "ships", "Schiff", "Schiffe", "n", ""),
    ("bed", "beds", "Bett", "Betten", "n", ""), ("glass", "glasses", "Glas", "Gläser", "n", ""),
    ("song", "songs", "Lied", "Lieder", "n", ""), ("boat", "boats", "Boot", "Boote", "n", ""),
    ("room", "rooms", "Zimmer", "Zimmer", "n", ""), ("knife", "knives", "Messer", "Messer", "n", ""),
    ("bicycle", "bicycles", "Fahrrad", "Fahrräder", "n", ""), ("lamb", "lambs", "Lamm", "Lämmer", "n", ""),
]
# animate nouns may be subjects
ANIMATE = {"dog", "man", "bird", "teacher", "friend", "father", "brother", "son", "cook", "doctor", "king",
           "boy", "bear", "lion", "cat", "woman", "mouse", "cow", "sister", "mother", "daughter", "child",
           "horse", "girl", "lamb"}
PLACES = {"table", "chair", "tree", "garden", "house", "car", "window", "bed", "room", "boat", "ship",
          "city", "school", "door", "lamp"}

ADJECTIVES = [("red", "rot"), ("big", "groß"), ("small", "klein"), ("old", "alt"), ("new", "neu"),
              ("young", "jung"), ("beautiful", "schön"), ("green", "grün"), ("blue", "blau"),
              ("black", "schwarz"), ("white", "weiß"), ("yellow", "gelb"), ("tired", "müde"),
              ("fast", "schnell"), ("slow", "langsam"), ("good", "gut"), ("bad", "schlecht"),
              ("brown", "braun"), ("cheap", "billig"), ("hungry", "hungrig"), ("loud", "laut"),
              ("quiet", "still"), ("happy", "froh"), ("clean", "sauber")]

# verbs: english base, english 3sg, german forms for ich, du, er/sie/es, wir, sie (plural)
TRANSITIVE = [
    ("see", "sees", ["sehe", "siehst", "sieht", "sehen", "sehen"]),
    ("like", "likes", ["mag", "magst", "mag", "mögen", "mögen"]),
    ("have", "has", ["habe", "hast", "hat", "haben", "haben"]),
    ("find", "finds", ["finde", "findest", "findet", "finden", "finden"]),
    ("buy", "buys", ["kaufe", "kaufst", "kauft", "kaufen", "kaufen"]),
    ("read", "reads", ["lese", "liest", "liest", "lesen", "lesen"]),
    ("need", "needs", ["brauche", "brauchst", "braucht", "brauchen", "brauchen"]),
    ("know", "knows", ["kenne", "kennst", "kennt", "kennen", "kennen"]),
    ("hear", "hears", ["höre", "hörst", "hört", "hören", "hören"]),
    ("visit", "visits", ["besuche", "besuchst", "besucht", "besuchen", "besuchen"]),
    ("paint", "paints", ["male", "malst", "malt", "malen", "malen"]),
    ("carry", "carries", ["trage", "trägst", "trägt", "tragen", "tragen"]),
    ("hold", "holds", ["halte", "hältst", "hält", "halten", "halten"]),
    ("open", "opens", ["öffne", "öffnest", "öffnet", "öffnen", "öffnen"]),
    ("wash", "washes", ["wasche", "wäschst", "wäscht", "waschen", "waschen"]),
    ("love", "loves", ["liebe", "liebst", "liebt", "lieben", "lieben"]),
    ("draw", "draws", ["zeichne", "zeichnest", "zeichnet", "zeichnen", "zeichnen"]),
    ("catch", "catches", ["fange", "fängst", "fängt", "fangen", "fangen"]),
    ("take", "takes", ["nehme", "nimmst", "nimmt", "nehmen", "nehmen"]),
    ("sell", "sells", ["verkaufe", "verkaufst", "verkauft", "verkaufen", "verkaufen"]),
    ("call", "calls", ["rufe", "rufst", "ruft", "rufen", "rufen"]),
    ("count", "counts", ["zähle", "zählst", "zählt", "zählen", "zählen"]),
    ("ask", "asks", ["frage", "fragst", "fragt", "fragen", "fragen"]),
    ("eat", "eats", ["esse", "isst", "isst", "essen", "essen"]),
    ("write", "writes", ["schreibe", "schreibst", "schreibt", "schreiben", "schreiben"]),
]
INTRANSITIVE = [
    ("sleep", "sleeps", ["schlafe", "schläfst", "schläft", "schlafen", "schlafen"]),
    ("run", "runs", ["laufe", "läufst", "läuft", "laufen", "laufen"]),
    ("sing", "sings", ["singe", "singst", "singt", "singen", "singen"]),
    ("play", "plays", ["spiele", "spielst", "spielt", "spielen", "spielen"]),
    ("wait", "waits", ["warte", "wartest", "wartet", "warten", "warten"]),
    ("laugh", "laughs", ["lache", "lachst", "lacht", "lachen", "lachen"]),
    ("swim", "swims", ["schwimme", "schwimmst", "schwimmt", "schwimmen", "schwimmen"]),
    ("work", "works", ["arbeite", "arbeitest", "arbeitet", "arbeiten", "arbeiten"]),
    ("dance", "dances", ["tanze", "tanzt", "tanzt", "tanzen", "tanzen"]),
    ("sit", "sits", ["sitze", "sitzt", "sitzt", "sitzen", "sitzen"]),
    ("stand", "stands", ["stehe", "stehst", "steht", "stehen", "stehen"]),
    ("live", "lives", ["wohne", "wohnst", "wohnt", "wohnen", "wohnen"]),
]
DITRANSITIVE = [
    ("give", "gives", ["gebe", "gibst", "gibt", "geben", "geben"]),
    ("show", "shows", ["zeige", "zeigst", "zeigt", "zeigen", "zeigen"]),
    ("bring", "brings", ["bringe", "bringst", "bringt", "bringen", "bringen"]),
    ("send", "sends", ["schicke", "schickst", "schickt", "schicken", "schicken"]),
]
COPULA = ("be", "is", ["bin", "bist", "ist", "sind", "sind"])
EN_BE = ["am", "are", "is", "are", "are"]

# pronouns: english subject, english object, person index, german nom, acc, dat
PRONOUNS = [("I", "me", 0, "ich", "mich", "mir"), ("you", "you", 1, "du", "dich", "dir"),
            ("he", "him", 2, "er", "ihn", "ihm"), ("she", "her", 2, "sie", "sie", "ihr"),
            ("it", "it", 2, "es", "es", "ihm"), ("we", "us", 3, "wir", "uns", "uns"),
            ("they", "them", 4, "sie", "sie", "ihnen")]

# adverbs (time/frequency/place); all can be fronted (V2) or put at the end
ADVERBS = [("today", "heute"), ("tomorrow", "morgen"), ("now", "jetzt"), ("often", "oft"),
           ("sometimes", "manchmal"), ("here", "hier"), ("there", "dort")]

# prepositions: english, german, case, allows pronoun object
PREPS = [("with", "mit", "dat", True), ("without", "ohne", "acc", True), ("for", "für", "acc", True),
         ("behind", "hinter", "dat", True), ("under", "unter", "dat", False), ("next to", "neben", "dat", True),
         ("in front of", "vor", "dat", False), ("in", "in", "dat", False), ("on", "auf", "dat", False),
         ("from", "von", "dat", True), ("to", "zu", "dat", True)]
CONTRACTIONS = {("in", "dem"): "im", ("von", "dem"): "vom", ("zu", "dem"): "zum", ("zu", "der"): "zur"}

DEF_ART = {"m": ["der", "den", "dem"], "f": ["die", "die", "der"], "n": ["das", "das", "dem"], "p": ["die", "die", "den"]}
# endings of ein / mein / dein / unser / kein
POSS_END = {"m": ["", "en", "em"], "f": ["e", "e", "er"], "n": ["", "", "em"], "p": ["e", "e", "en"]}
POSSESSIVES = [("my", "mein"), ("your", "dein"), ("our", "unser")]
CASES = {"nom": 0, "acc": 1, "dat": 2}


def adj_ending(kind, g, case):
    """kind: def (der-words), mixed (ein-words), strong (no article). g in m f n p. case 0/1/2."""
    if kind == "def":
        if g == "p" or case == 2:
            return "en"
        if case == 1 and g == "m":
            return "en"
        return "e"
    if kind == "mixed":
        if g == "p" or case == 2:
            return "en"
        if g == "m":
            return "er" if case == 0 else "en"
        if g == "f":
            return "e"
        return "es"
    # strong, only used for plurals here
    return "en" if case == 2 else "e"


def decline_adj(stem, ending):
    """müde + e -> müde, müde + en -> müden."""
    if stem.endswith("e") and ending.startswith("e"):
        return stem + ending[1:]
    return stem + ending


def noun_form(noun, plural, case):
    en_sg, en_pl, de_sg, de_pl, g, weak = noun
    if plural:
        if case == 2 and not (de_pl.endswith("n") or de_pl.endswith("s")):
            return de_pl + "n"
        return de_pl
    if case > 0 and weak:
        return de_sg + weak
    return de_sg


class NP:
    """A noun phrase, rendered in English and (for a given case) German."""

    def __init__(self, noun, plural, det, adjs, count=0):
        self.noun, self.plural, self.det, self.adjs, self.count = noun, plural, det, adjs, count

    def head(self):
        return self.noun[0]

    def person(self):
        return 4 if self.plural else 2

    def en(self):
        words = []
        if self.det == "the":
            words.append("the")
        elif self.det == "a":
            words.append("an" if (self.adjs[0][0] if self.adjs else self.noun[0])[0] in "aeiou" else "a")
        elif self.det in ("my", "your", "our"):
            words.append(self.det)
        if self.count:
            words.append(en_number(self.count))
        words += [a[0] for a in self.adjs]
        words.append(self.noun[1] if self.plural else self.noun[0])
        return " ".join(words)

    def de(self, case, prep=None):
        """German words; prep (german preposition) handles contraction with the article."""
        c = CASES[case]
        g = "p" if self.plural else self.noun[4]
        words = []
        if self.det == "the":
            kind = "def"
            art = DEF_ART[g][c]
            if prep is not None and (prep, art) in CONTRACTIONS and not self.plural:
                words.append(CONTRACTIONS[(prep, art)])
                prep = None
            else:
                words.append(art)
        elif self.det == "a":
            kind = "mixed"
            words.append("ein" + POSS_END[g][c])
        elif self.det in ("my", "your", "our"):
            kind = "mixed"
            words.append(dict(POSSESSIVES)[self.det] + POSS_END[g][c])
        else:
            kind = "strong"
        if self.count:
            if kind == "mixed":
                raise AssertionError("no count after ein-words")
            words.append(de_number(self.count))
        words += [decline_adj(a[1], adj_ending(kind, g, c)) for a in self.adjs]
        words.append(noun_form(self.noun, self.plural, c))
        if prep is not None:
            words.insert(0, prep)
        return words


class Pron:
    def __init__(self, p):
        self.p = p

    def head(self):
        return self.p[0]

    def person(self):
        return self.p[2]

    def en_subj(self):
        return self.p[0]

    def en_obj(self):
        return self.p[1]

    def de(self, case, prep=None):
        w = self.p[3 + CASES[case]]
        return [prep, w] if prep else [w]


# ----------------------------------------------------------------------------------------------
# Sentence generator

class Grammar:
    def __init__(self, seed):
        r = random.Random(seed * 7919 + 17)
        pairs = sorted((a[0], n[0]) for a in ADJECTIVES for n in NOUNS)
        self.heldout_an = set(p for p in pairs if r.random() < 0.06)
        subjects = sorted([n[0] for n in NOUNS if n[0] in ANIMATE] + [p[0] for p in PRONOUNS])
        objects = sorted([n[0] for n in NOUNS] + [p[1] for p in PRONOUNS])
        verbs = sorted(v[0] for v in TRANSITIVE + DITRANSITIVE)
        self.heldout_svo = set((s, v, o) for s in subjects for v in verbs for o in objects if r.random() < 0.03)

    def random_np(self, r, case, animate=False, allow_plural=True):
        pool = [n for n in NOUNS if n[0] in ANIMATE] if animate else NOUNS
        noun = r.choice(pool)
        plural = allow_plural and r.random() < 0.4
        x = r.random()
        count = 0
        if plural:
            if x < 0.35:
                det = "the"
            elif x < 0.5:
                det = r.choice(["my", "your", "our"])
            elif x < 0.65:
                det = "the"
                count = self.random_count(r)
            else:
                det = ""
                count = self.random_count(r)
        else:
            if x < 0.5:
                det = "the"
            elif x < 0.8:
                det = "a"
            else:
                det = r.choice(["my", "your", "our"])
        nadj = r.choices([0, 1], [0.45, 0.55])[0]
        adjs = r.sample(ADJECTIVES, nadj)
        return NP(noun, plural, det, adjs, count)

    @staticmethod
    def random_count(r):
        x = r.random()
        if x < 0.8:
            return r.randint(2, 12)
        return r.randint(13, 99)

    def sentence(self, r):
        """Return (english, german, combos) where combos is the set of held-out-relevant combinations."""
        kind = r.choices(["tr", "intr", "ditr", "cop"], [0.5, 0.2, 0.15, 0.15])[0]
        pron_subj = r.random() < 0.3
        subj = Pron(r.choice(PRONOUNS)) if pron_subj else self.random_np(r, "nom", animate=True)
        person = subj.person()
        en_subj = subj.en_subj() if pron_subj else subj.en()
        de_subj = subj.de("nom")
        adv = r.choice(ADVERBS) if r.random() < 0.45 else None
        front = adv is not None and r.random() < 0.6
        combos = set()
        nps = [] if pron_subj else [subj]
        en_rest, de_mid, de_tail = [], [], []   # german: [verb] subj? de_mid (adverb slot) de_tail
        pp = None
        obj_pron = False
        if kind in ("tr", "ditr"):
            verb = r.choice(TRANSITIVE if kind == "tr" else DITRANSITIVE)
            en_verb = verb[1] if person == 2 else verb[0]
            de_verb = verb[2][person]
            if kind == "ditr":
                if r.random() < 0.35:
                    io = Pron(r.choice(PRONOUNS))
                    en_rest.append(io.en_obj())
                    obj_pron = True
                else:
                    io = self.random_np(r, "dat", animate=True)
                    en_rest.append(io.en())
                    nps.append(io)
                do = self.random_np(r, "acc")
                nps.append(do)
                en_rest.append(do.en())
                de_pre = io.de("dat")
                de_post = do.de("acc")
                # adverb after a pronoun dative, before the nominal accusative
                if obj_pron:
                    de_mid, de_tail = de_pre, de_post
                else:
                    de_mid, de_tail = [], de_pre + de_post
                obj_head = do.head()
            else:
                if r.random() < 0.3:
                    obj = Pron(r.choice(PRONOUNS))
                    en_rest.append(obj.en_obj())
                    obj_pron = True
                    obj_head = obj.en_obj()
                    de_mid = obj.de("acc")
                else:
                    obj = self.random_np(r, "acc")
                    nps.append(obj)
                    en_rest.append(obj.en())
                    obj_head = obj.head()
                    de_tail = obj.de("acc")
            combos.add(("svo", subj.head(), verb[0], obj_head))
        elif kind == "intr":
            verb = r.choice(INTRANSITIVE)
            en_verb = verb[1] if person == 2 else verb[0]
            de_verb = verb[2][person]
        else:
            verb = COPULA
            en_verb = EN_BE[person] if pron_subj else ("is" if person == 2 else "are")
            de_verb = verb[2][person]
            adj = r.choice(ADJECTIVES)
            en_rest.append(adj[0])
            de_tail = [adj[1]]
            if not pron_subj:
                combos.add(("an", adj[0], subj.head()))
        if kind in ("tr", "intr") and r.random() < (0.5 if kind == "intr" else 0.2):
            prep = r.choice(PREPS)
            if prep[3] and r.random() < 0.25:
                pp_obj = Pron(r.choice([p for p in PRONOUNS if p[0] != "it"]))
                en_pp = prep[0] + " " + pp_obj.en_obj()
            else:
                pool = [n for n in NOUNS if n[0] in PLACES] if not prep[3] else NOUNS
                pp_obj = self.random_np(r, prep[2])
                while pp_obj.noun not in pool:
                    pp_obj = self.random_np(r, prep[2])
                nps.append(pp_obj)
                en_pp = prep[0] + " " + pp_obj.en()
            pp = (en_pp, pp_obj.de(prep[2], prep[1]))
        if pp is not None and adv is not None and not front:
            front = True  # keep "time before place" simple: no end adverb together with a PP
        if front and not pron_subj and obj_pron:
            front = False  # avoid "Heute sieht ihn der Hund" vs "Heute sieht der Hund ihn"
        for np_ in nps:
            for a in np_.adjs:
                combos.add(("an", a[0], np_.head()))
        # English
        en = []
        if front:
            en.append(adv[0])
        en.append(en_subj)
        en.append(en_verb)
        en += en_rest
        if pp:
            en.append(pp[0])
        if adv and not front:
            en.append(adv[0])
        # German
        de = []
        if front:
            de += [adv[1], de_verb] + de_subj + de_mid + de_tail
        else:
            de += de_subj + [de_verb] + de_mid
            if adv:
                de.append(adv[1])
            de += de_tail
        if pp:
            de += pp[1]
        en_s = " ".join(en)
        de_s = " ".join(de)
        en_s = en_s[0].upper() + en_s[1:] + "."
        de_s = de_s[0].upper() + de_s[1:] + "."
        return en_s, de_s, combos

    def is_heldout(self, combos):
        for c in combos:
            if c[0] == "an" and (c[1], c[2]) in self.heldout_an:
                return True
            if c[0] == "svo" and (c[1], c[2], c[3]) in self.heldout_svo:
                return True
        return False


# ----------------------------------------------------------------------------------------------
# Data sets

def heldout_number_set(seed, n=2000):
    r = random.Random(seed * 104729 + 3)
    return sorted(r.sample(range(1000, 1000000), n))


def heldout_numbers(seed, n=2000):
    """List of (english, german) for the held-out numbers, in a seeded random order."""
    nums = heldout_number_set(seed, n)
    random.Random(seed + 5).shuffle(nums)
    return [(en_number(x), de_number(x)) for x in nums]


def heldout_sentences(seed, n=2000):
    g = Grammar(seed)
    r = random.Random(seed * 31 + 11)
    out, seen = [], set()
    while len(out) < n:
        en, de, combos = g.sentence(r)
        if g.is_heldout(combos) and en not in seen:
            seen.add(en)
            out.append((en, de))
    return out


def training_numbers(seed, n):
    """n training number pairs: every 0..999 once (minus held-out), the rest half uniform over
    0..999999, half uniform over the number of digits. Never a held-out number."""
    held = set(heldout_number_set(seed))
    r = random.Random(seed * 613 + 1)
    nums = [x for x in range(1000) if x not in held]
    while len(nums) < n:
        if r.random() < 0.5:
            x = r.randint(0, 999999)
        else:
            d = r.randint(1, 6)
            x = r.randint(0 if d == 1 else 10 ** (d - 1), 10 ** d - 1)
        if x not in held:
            nums.append(x)
    nums = nums[:n]
    r.shuffle(nums)
    return [(en_number(x), de_number(x)) for x in nums]


def training_sentences(seed, n):
    g = Grammar(seed)
    r = random.Random(seed * 977 + 5)
    out = []
    while len(out) < n:
        en, de, combos = g.sentence(r)
        if not g.is_heldout(combos):
            out.append((en, de))
    return out


def training_pairs(seed, n_numbers, n_sentences):
    pairs = training_numbers(seed, n_numbers) + training_sentences(seed, n_sentences)
    random.Random(seed + 99).shuffle(pairs)
    return pairs


ODD_INPUTS = [
    "Grüße aus Köln.", "The zebra sees the cat.", "Hello, world!", "THE DOG SEES THE CAT.",
    "the dog sees the cat", "The  dog   sees the cat.", "123456", ">>deu<< The dog sees the cat.",
    "日本語のテキスト", "The dog sees the cat. The cat sees the dog.", "one million", "🙂 The dog sleeps.",
    "ＡＢＣ ｄｏｇ", "café", ".", "?", "a", "I", "Ünïcödé ñ", "The dog sees the cat!", "Does the dog see the cat?",
    "the dog, the cat and the bird", "Der Hund sieht die Katze.", "<unk>", "</s>", "<pad>", "▁the dog",
    "three hundred and five", "twenty-one", "The cat's ball.", "(The dog sleeps.)", "seven seven seven seven",
]


def golden_inputs(seed):
    """Inputs for tests/data/en-de-demo.golden.tsv: held-out numbers and sentences, training-like
    numbers and sentences, odd inputs, and a few long ones. No empty line, no tab."""
    r = random.Random(seed * 4243 + 7)
    out = [en for en, _ in heldout_numbers(seed)[:250]]
    out += [en for en, _ in heldout_sentences(seed, 2000)[:250]]
    out += [en_number(x) for x in (0, 1, 7, 10, 11, 21, 99, 100, 101, 111, 999, 1000, 1001, 21000, 100000,
                                   101000, 700007, 999999, 342105, 500000)]
    out += [en for en, _ in training_sentences(seed + 1000, 80)]
    out += ODD_INPUTS
    long_src = " ".join(en for en, _ in training_sentences(seed + 2000, 12))
    out += [long_src, long_src.lower().replace(".", ""), " ".join([en_number(999999)] * 8)]
    assert all(x and "\t" not in x and "\n" not in x for x in out)
    return out


# ----------------------------------------------------------------------------------------------

def self_test(seed=1):
    for n, s in NUMBER_EXAMPLES_EN.items():
        assert en_number(n) == s, (n, en_number(n), s)
    for n, s in NUMBER_EXAMPLES_DE.items():
        assert de_number(n) == s, (n, de_number(n), s)
    for n in range(0, 1000000, 997):
        e, d = en_number(n), de_number(n)
        assert " and " not in e and "-" not in e and "  " not in e and " " not in d
    g = Grammar(seed)
    r = random.Random(5)
    examples = {}
    for _ in range(20000):
        en, de, c = g.sentence(r)
        examples[en] = de
    checks = {
        "The dog sees the cat.": "Der Hund sieht die Katze.",
        "Today the dog sees the cat.": "Heute sieht der Hund die Katze.",
    }
    # a few hand-built sentences through the NP machinery
    dog = [n for n in NOUNS if n[0] == "dog"][0]
    cat = [n for n in NOUNS if n[0] == "cat"][0]
    red = ("red", "rot")
    assert NP(cat, True, "", [red], 3).en() == "three red cats"
    assert " ".join(NP(cat, True, "", [red], 3).de("nom")) == "drei rote Katzen"
    assert " ".join(NP(cat, True, "the", [red], 3).de("dat")) == "den drei roten Katzen"
    assert " ".join(NP(dog, False, "a", [red], 0).de("nom")) == "ein roter Hund"
    assert " ".join(NP(dog, False, "a", [red], 0).de("acc")) == "einen roten Hund"
    assert " ".join(NP(dog, False, "the", [red], 0).de("dat", "in")) == "im roten Hund"
    assert " ".join(NP(dog, True, "our", [], 0).de("dat")) == "unseren Hunden"
    assert " ".join(NP(dog, True, "", [("tired", "müde")], 3).de("nom")) == "drei müde Hunde"
    assert " ".join(NP(dog, True, "the", [("tired", "müde")], 3).de("nom")) == "die drei müden Hunde"
    boy = [n for n in NOUNS if n[0] == "boy"][0]
    assert " ".join(NP(boy, False, "the", [], 0).de("acc")) == "den Jungen"
    for en, de in checks.items():
        if en in examples:
            assert examples[en] == de, (en, examples[en], de)
    words = set()
    for en in list(examples) + [en_number(x) for x in range(0, 1000000, 37)]:
        words.update(en.lower().rstrip(".").split())
    assert len(words) >= 150, len(words)
    held_n = set(heldout_number_set(seed))
    tr = training_numbers(seed, 20000)
    assert not any(p[0] in {en_number(x) for x in held_n} for p in tr[:2000])
    hs = heldout_sentences(seed, 200)
    ts = set(e for e, _ in training_sentences(seed, 20000))
    assert not any(e in ts for e, _ in hs)
    print("self-test ok: %d distinct English words, %d held-out (adj,noun) pairs, %d held-out SVO triples"
          % (len(words), len(g.heldout_an), len(g.heldout_svo)))
    for en in list(examples)[:15]:
        print("  %s\t%s" % (en, examples[en]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--numbers", type=int, default=0, help="training number pairs to print")
    ap.add_argument("--sentences", type=int, default=0, help="training sentence pairs to print")
    ap.add_argument("--heldout-dir", help="write heldout-numbers.tsv and heldout-sentences.tsv here")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--golden-inputs", action="store_true", help="print the golden fixture inputs")
    a = ap.parse_args()
    if a.self_test:
        self_test(a.seed)
        return
    if a.golden_inputs:
        for x in golden_inputs(a.seed):
            sys.stdout.write(x + "\n")
        return
    if a.heldout_dir:
        import os
        for name, pairs in (("heldout-numbers.tsv", heldout_numbers(a.seed)),
                            ("heldout-sentences.tsv", heldout_sentences(a.seed))):
            with open(os.path.join(a.heldout_dir, name), "w", encoding="utf-8") as f:
                for en, de in pairs:
                    f.write("%s\t%s\n" % (en, de))
    if a.numbers or a.sentences:
        out = sys.stdout
        for en, de in training_pairs(a.seed, a.numbers, a.sentences):
            out.write("%s\t%s\n" % (en, de))


if __name__ == "__main__":
    main()
