"""PII scrubbing: each kind is replaced by its typed placeholder, ordinary text is left alone."""

from __future__ import annotations

import re

import pytest

from therapeutic_moe.data import PiiScrubber, load_conversations
from therapeutic_moe.errors import ConfigError

# (text, expected after scrubbing, kinds counted)
CASES = [
    ("write to me at jo.smith+notes@example.co.uk today", "write to me at [EMAIL] today", {"email": 1}),
    ("my blog is https://example.com/blog?page=2.", "my blog is [URL].", {"url": 1}),
    ("see www.example.org or janedoe.net.", "see [URL] or [URL].", {"url": 2}),
    ("call (555) 123-4567 or 555.987.6543", "call [PHONE] or [PHONE]", {"phone": 2}),
    ("my cell is +44 20 7946 0958, landline 0161 496 0000", "my cell is [PHONE], landline [PHONE]", {"phone": 2}),
    ("text 555-0199 tonight", "text [PHONE] tonight", {"phone": 1}),
    ("my SSN is 123-45-6789", "my SSN is [ID]", {"id_number": 1}),
    ("card 4111 1111 1111 1111 expired", "card [ID] expired", {"id_number": 1}),
    ("my member ID is AB123456 and passport number: X9876543", "my member ID is [ID] and passport number: [ID]",
     {"id_number": 2}),
    ("I was born on 03/14/1988 in a small town", "I was born on [DOB] in a small town", {"date_of_birth": 1}),
    ("DOB: 1990-02-01. My birthday is March 3rd", "DOB: [DOB]. My birthday is [DOB]", {"date_of_birth": 2}),
    ("I live at 42 Elm Street, Springfield now", "I live at [ADDRESS] now", {"address": 1}),
    ("moved to 1200 W 5th Avenue Apt 3B, Denver, CO 80204 last year", "moved to [ADDRESS] last year",
     {"address": 1}),
    ("send it to P.O. Box 1234 please", "send it to [ADDRESS] please", {"address": 1}),
    ("we live on Maple Grove Lane", "we live on [ADDRESS]", {"address": 1}),
    ("Hi, my name is Sarah Johnson.", "Hi, my name is [NAME].", {"name": 1}),
    ("my name is priya and I'm tired", "my name is [NAME] and I'm tired", {"name": 1}),
    ("Thanks, Maria. How has Tom been?", "Thanks, [NAME]. How has [NAME] been?", {"name": 2}),
    ("Dr. Okafor said my boss Gregory was wrong", "Dr. [NAME] said my boss [NAME] was wrong", {"name": 2}),
    ("I'm Will and this is Hope.", "I'm [NAME] and this is [NAME].", {"name": 2}),
    ("Is that okay with you, Zephyrine?", "Is that okay with you, [NAME]?", {"name": 1}),
]

UNTOUCHED = [
    "I feel hopeless and angry at my mother.",
    "Will I ever feel better? Hope helps. Grace is a virtue. May I ask something?",
    "See you next Tuesday at 10:30. I took 20 mg in 2019 and paid $1,500.",
    "I'm Catholic, I'm American, and I'm so tired.",
    "My mom said it would pass. Okay, Yeah.",
    "Therapist and Client both agreed, Doctor.",
    "I was born in 1988 and I'm 36 years old.",
    # states and countries, public figures, everyday lowercase words after a cue
    "I moved to Ohio last year and I'm from Brazil originally.",
    "I keep listening to Taylor Swift and reading Sylvia Plath.",
    "my husband doesn't listen and my dad became angry.",
    "I was at home all day, dot dot dot",  # "at" and "dot" without a domain ending: not an email
    "we met at 10:30 on Monday and I paid 250 dollars",
    "I can't handle that. my son is doing better",
]


@pytest.mark.parametrize("text, expected, counts", CASES, ids=[c[1][:40] for c in CASES])
def test_scrubs_each_kind(text, expected, counts):
    scrubber = PiiScrubber()
    assert scrubber.scrub(text) == expected
    assert dict(scrubber.counts) == counts


@pytest.mark.parametrize("text", UNTOUCHED)
def test_ordinary_text_is_untouched(text):
    scrubber = PiiScrubber()
    assert scrubber.scrub(text) == text
    assert not scrubber.counts


def test_only_selected_kinds_run():
    scrubber = PiiScrubber(kinds=("email",))
    assert scrubber.scrub("Thanks, Maria. a@b.example.com 555-0199") == "Thanks, Maria. [EMAIL] 555-0199"


def test_unknown_kind_is_a_config_error_with_suggestion():
    with pytest.raises(ConfigError, match="unknown kind.*'emails'.*Did you mean 'email'"):
        PiiScrubber(kinds=("emails",))


def test_speaker_labels_survive_and_roles_stay(tmp_path):
    # A user who labels turns with a first name: the label is configuration, never scrubbed,
    # while the same name inside a turn is.
    from therapeutic_moe.data.transcript import Speakers

    path = tmp_path / "d.json"
    path.write_text('{"conversations": [{"text": "Therapist: Hello Maria, welcome.\\nMaria: Hi, I am Maria."}]}')
    conv = load_conversations(path, Speakers(user=("Maria",)))[0]
    scrubbed = PiiScrubber().scrub_conversation(conv)
    assert [t.role for t in scrubbed.turns] == ["assistant", "user"]
    assert scrubbed.turns[0].content == "Hello [NAME], welcome."
    assert scrubbed.turns[1].content == "Hi, I am [NAME]."
    assert conv.turns[0].content == "Hello Maria, welcome."  # the input is not modified in place


def test_kind_names_match_the_safety_config():
    from therapeutic_moe.config.safety_config import PII_KINDS as CONFIG_KINDS
    from therapeutic_moe.data.pii import PII_KINDS, PLACEHOLDERS

    assert set(CONFIG_KINDS) == set(PII_KINDS)
    assert set(PLACEHOLDERS.values()) == {"[EMAIL]", "[PHONE]", "[URL]", "[ADDRESS]", "[DOB]", "[ID]", "[NAME]"}


# Safe Harbor identifier families: every planted identifier of the development set is gone
# (the held-out set is only measured, by scripts/pii_eval.py).
from therapeutic_moe.data.pii_planted import DEV, planted  # noqa: E402

_TELLING = re.compile(r"[^\W_]{2,}")
_GENERIC = {"dot", "at", "com", "ext", "county", "zip", "de", "me"}


@pytest.mark.parametrize("line", DEV, ids=[planted(line)[1][0][0] + ":" + planted(line)[0][:30] for line in DEV])
def test_planted_identifiers_are_scrubbed(line):
    text, marks = planted(line)
    out = PiiScrubber().scrub(text)
    left = set(_TELLING.findall(out))
    for kind, value in marks:
        parts = [t for t in _TELLING.findall(value) if t.lower() not in _GENERIC]
        assert not any(p in left for p in parts), f"{kind} {value!r} survived: {out}"


def test_lowercase_hyphenated_and_accented_names():
    scrub = PiiScrubber().scrub
    assert scrub("my partner aoife works nights") == "my partner [NAME] works nights"
    assert scrub("I'm Mary-Kate and Lucía is my sister") == "I'm [NAME] and [NAME] is my sister"
    assert scrub("text lena tomorrow") == "text [NAME] tomorrow"


# Families of identifiers added after the blind set's first look; each with its own examples.
FAMILY_CASES = [
    # a weekday goes with its date; a bare month/day after a date word
    ("the hearing is on Monday, 3 March and I dread it", "the hearing is on [DOB] and I dread it"),
    ("she left on Fri 21st June", "she left on [DOB]"),
    ("I relapsed on 11/3 and again since 2/27.", "I relapsed on [DOB] and again since [DOB]."),
    # letters with diacritics beyond Latin-1: Polish, Czech, Turkish surnames
    ("my uncle Tomasz Wiśniewski drinks", "my uncle [NAME] drinks"),
    ("Dr. Dvořák and my friend Elif Yılmaz", "Dr. [NAME] and my friend [NAME]"),
    # a name after a cue naming the kind of name
    ("my maiden name Castellano still shows up", "my maiden name [NAME] still shows up"),
    ("My last name is Okonkwo-Bright.", "My last name is [NAME]."),
    ("my nickname at school was Tink and I hated it", "my nickname at school was [NAME] and I hated it"),
    # family name first: Chinese, Korean, Vietnamese
    ("Zhang Jing from work texted me", "[NAME] from work texted me"),
    ("I told Nguyen Minh everything", "I told [NAME] everything"),
    ("Maria Wang Fang called", "[NAME] called"),  # given name, then a family-name-first name
    # street words with a dot, and the town right after a street address
    ("we rented 88 N. Halsted Ave, Apt 2 for a year", "we rented [ADDRESS] for a year"),
    ("the shop on Molenstraat in Leiden fired me", "the shop on [ADDRESS] fired me"),
    ("I grew up at 14 Oak Road, Cork and never went back", "I grew up at [ADDRESS] and never went back"),
    ("we live on Main Street in Ohio now", "we live on [ADDRESS] in Ohio now"),  # the state stays
    ("post it to D02 X285 please, it's Dublin 8", "post it to [ADDRESS] please, it's [ADDRESS]"),
    ("I'm in Brixton now with my cousin", "I'm in [ADDRESS] now with my cousin"),
    # plates: with a cue in several groups, and formats distinctive without one
    ("a car, plate MH 12 DE 1433, kept circling", "a car, plate [ID], kept circling"),
    ("the van was YD21 PLK again", "the van was [ID] again"),
    ("his Renault was AB-452-CF", "his Renault was [ID]"),
    # IDs with a letter prefix, more ID cues, device cue "SN", segmented codes
    ("the claim number is HRX 5521-004 and it was denied", "the claim number is [ID] and it was denied"),
    ("my Medicaid ID: 77310924A please", "my Medicaid ID: [ID] please"),
    ("the label reads SN K7Q2-88ZT-1044", "the label reads SN [ID]"),
    ("my key is 9QXR-T22-LM4P", "my key is [ID]"),
    # handles: after a platform cue with "I'm", and snake_case words
    ("add me on Discord, I'm moth_queen99", "add me on Discord, I'm [URL]"),
    ("my old account big_sad_toast got hacked", "my old account [URL] got hacked"),
]

# families added after reading the third blind set's misses (examples written for these tests)
FAMILY_CASES += [
    ("Olufemi was my neighbour for ten years", "[NAME] was my neighbour for ten years"),
    ("Ingrid and Saoirse are my closest friends", "[NAME] and [NAME] are my closest friends"),
    ("his name is Ruairí but we call him Rory", "his name is [NAME] but we call him [NAME]"),
    ("my step-dad Desmond Ní Bhriain never listens", "my step-dad [NAME] never listens"),
    ("I texted Zdeněk before the session", "I texted [NAME] before the session"),
    ("Trần Thị Mai is my aunt", "[NAME] is my aunt"),
    ("my cousin still lives in Yaba and I miss her", "my cousin still lives in [ADDRESS] and I miss her"),
    ("we rent at 9 Hope Street, Fitzroy VIC 3065", "we rent at [ADDRESS]"),
    ("ul. Długa 12/3, 80-827 Gdańsk was our flat", "[ADDRESS] was our flat"),
    ("the hearing moved to Thursday the 9th", "the hearing moved to [DOB]"),
    ("I see her again on the 21st", "I see her again on [DOB]"),
    ("the ticket reference is REF-2024-556120", "the ticket reference is [ID]"),
    ("my staff code is HR-0099123", "my staff code is [ID]"),
    ("write to anna underscore k at gmail dot com", "write to [EMAIL]"),
    ("his car had plates, KX 5520, I saw them", "his car had plates, [ID], I saw them"),
]

# families added after reading the fourth blind set's misses (examples written for these tests)
FAMILY_CASES += [
    ("the MRN on it is 55120934, I checked", "the MRN on it is [ID], I checked"),
    ("plan member ID KPL 552 019 334 on the card", "plan member ID [ID] on the card"),
    ("my NI number is AB 12 34 56 D", "my NI number is [ID]"),
    ("a car with plates M-XR 2210 waited outside", "a car with plates [ID] waited outside"),
    ("ring me on six one seven, five five five, zero one nine two", "ring me on [PHONE]"),
    ("write to t.ng.88 @ gmail . com please", "write to [EMAIL] please"),
    ("the review moved to Fri 9/12 at noon", "the review moved to [DOB] at noon"),
    ("we're on RR 4, Box 27 outside town", "we're on [ADDRESS] outside town"),
    ("post it to Kingston, ON K7L 3N6", "post it to [ADDRESS]"),
    ("mi abuela Remedios Saldaña cooked every Sunday", "mi abuela [NAME] cooked every Sunday"),
    ("my old psychiatrist was dr Adebayo-Cole", "my old psychiatrist was dr [NAME]"),
    ("at work I go by Tunji", "at work I go by [NAME]"),
    ("my legal name on the forms is Rosario Huamán Quispe", "my legal name on the forms is [NAME]"),
    ("And Siobhra, she was the one who drove me home.", "And [NAME], she was the one who drove me home."),
]

FAMILY_CASES += [
    # added with the dictionary rule (2026-12-03): unbroken codes, a cue a few words before its number,
    # spelled ordinals, foreign and Indian/Japanese addresses, CamelCase handles; no dictionary needed
    ("the insurer wants the member number, it's QTR5510923", "the insurer wants the member number, it's [ID]"),
    ("his van is 4KXP219, white", "his van is [ID], white"),
    ("my record number from the ward was 77120043", "my record number from the ward was [ID]"),
    ("my case number, 19-553021, is on the letter", "my case number, [ID], is on the letter"),
    ("the claim reference says HSE 4410 2281 07 on it", "the claim reference says [ID] on it"),
    ("NI number AB 98 76 54 D", "NI number [ID]"),
    ("call 555-0142 ext. 7 at the desk", "call [PHONE] at the desk"),
    ("my cell is 0419-22-81-40 now", "my cell is [PHONE] now"),
    ("it happened on the twenty-third of March", "it happened on [DOB]"),
    ("discharged October the second, 2023", "discharged [DOB]"),
    ("we moved to 60614 in the spring", "we moved to [ADDRESS] in the spring"),
    ("send it to H.No. 12-4-77, Road No. 3, Jubilee Hills please", "send it to [ADDRESS] please"),
    ("the flat is in Sector 15, Gurgaon 122001", "the flat is in [ADDRESS]"),
    ("on steam I'm QuietLanternFox and on xbox xXMothLightXx", "on steam I'm [URL] and on xbox [URL]"),
    ("the CPAP serial is RS 40-11872, if it matters", "the CPAP serial is [ID], if it matters"),
    ("his car, KTR-5512, was outside again", "his car, [ID], was outside again"),
    ("my SIN for the form is 446 201 337.", "my SIN for the form is [ID]."),
    ("call +44 20 7946 0321 any time", "call [PHONE] any time"),
    ("since February twenty-first I haven't slept", "since [DOB] I haven't slept"),
    ("we lived at Rua do Sol, 88, apto 12, Recife Velho when I was small", "we lived at [ADDRESS] when I was small"),
    ("my flat was Calle Mayor 9, 2º dcha, 28013 Madrid back then", "my flat was [ADDRESS] back then"),
    ("we stayed at No. 7, 2nd Main, Jayanagar, Mysuru 570011 for a year", "we stayed at [ADDRESS] for a year"),
    ("my old place was 3-8-12 Nishiogi-kita, Suginami-ku and I miss it", "my old place was [ADDRESS] and I miss it"),
    ("we're in Flat 2, 9 Elmwood Priory, Leeds now", "we're in [ADDRESS] now"),
    ("my CPF is 123.456.789-09 if you need it", "my CPF is [ID] if you need it"),
    ("the file is PL-4471/2022 at the county court", "the file is [ID] at the county court"),
    ("sort code and account no. is 20-45-67 55128890", "sort code and account no. is [ID]"),
    ("he lets me stay in Ikeja Phase 2 for now", "he lets me stay in [ADDRESS] for now"),
    ("Born in Glasgow, raised in Paisley, never left Scotland", "Born in [ADDRESS], raised in [ADDRESS], never left Scotland"),
    ("write to bela.k at posta dot hu please", "write to [EMAIL] please"),
    ("I made a profile at example.com/u/123 for my art", "I made a profile at [URL] for my art"),
    # foreign month names, spelled years, doubled digits read out
    ("mi papá nació el 3 de marzo de 1951 en el pueblo", "mi papá nació el [DOB] en el pueblo"),
    ("she died on 14 juillet 2003, I was nine", "she died on [DOB], I was nine"),
    ("the tribunal is the second of May, twenty twenty-five", "the tribunal is [DOB]"),
    ("text me on oh four one two, triple five, double two nine", "text me on [PHONE]"),
    # one-run national IDs, IBANs, any domain with a path
    ("the form wants my ID, 9001015009087, again", "the form wants my ID, [ID], again"),
    ("the refund went to GB29 NWBK 6016 1331 9268 19 by mistake", "the refund went to [ID] by mistake"),
    ("my shop is at handmadebyjo.shop/about now", "my shop is at [URL] now"),
    # post boxes with their town, postcodes after an address
    ("letters go to PO Box 812-40100, Kisumu.", "letters go to [ADDRESS]."),
    ("we live at H.No. 2-7/4, Gandhi Nagar, Warangal 506002 with my in-laws", "we live at [ADDRESS] with my in-laws"),
    ("mando para Rua Verde, 40, Londrina - PR, 86010-000 por favor", "mando para [ADDRESS] por favor"),
    ("lola moved to Purok 3, Brgy. Mabini, Lipa City last year", "lola moved to [ADDRESS] last year"),
    # an unknown word at a sentence's start that goes on about someone
    ("Tsegaye from my night class messaged me twice", "[NAME] from my night class messaged me twice"),
    # where the writer is from, after their name; a place word before a place's name
    ("hi im Lerato from Mamelodi, my mom doesnt know im here", "hi im [NAME] from [ADDRESS], my mom doesnt know im here"),
    ("we grew up in a little town called Kirkwall and everyone knew us", "we grew up in a little town called [ADDRESS] and everyone knew us"),
    # a lower-case month after a birthday cue, Australian landlines, Colombian addresses
    ("my birthday is october 9th and i dread it", "my birthday is [DOB] and i dread it"),
    ("ring the house on 03 5550 7788 after six", "ring the house on [PHONE] after six"),
    ("the office is on Carrera 7 No. 32-16, Teusaquillo now", "the office is on [ADDRESS] now"),
]

FAMILY_UNTOUCHED = [
    "I was born in 1994 and on Thursday I felt fine.",  # a year alone, a weekday alone
    "I rated it 7/10 and drank 3/4 of the bottle.",  # fractions, not dates
    "my last name doesn't matter, my nickname was nothing special",
    "I'm in Recovery now and I'm in Therapy twice a week.",  # states of life, not places
    "I'm in Texas now and my sister is in Ohio.",  # states stay
    "Long story short, Son, he hung up.",  # surnames-first and given names that are words
    "I moved up to the 4th floor on the 2nd try.",  # ordinals that are no dates
    "Music is my therapy and Running was my escape.",
    "I read Atomic Habits by James Clear and watched Dr. Phil.",  # public figures
    "I slept from one to three, then four to six, two hours total.",  # number words that are no phone
  # capitalised things before "is my" that is no kin word
    "I told Mom and asked God for help.",  # kin words and God are no names
    "taylor swift's tour and Brené Brown's podcast help me.",  # public figures, any case or accent
    "Work is my life and Home is my safe place.",  # capitalised words before "is my" that are no people
    "He told Li everything.",  # a family name alone is no full name
    "my COVID-19 test and the A-B-C of it, N95 masks",
    "I keep reading Sylvia Plath and Oprah Winfrey.",
    "I felt so low after the BBC news and the ADHD meds",
    "I ate 3 mars bars and read about Pope Francis and Saint Jude.",  # a month-like word, religious titles
    "It was 3 de la tarde and the score was 2-1.",
    "I'm tired from work, I'm back from the gym.",  # "from" after I'm with no place
]


@pytest.mark.parametrize("text, expected", FAMILY_CASES, ids=[c[1][:40] for c in FAMILY_CASES])
def test_identifier_families(text, expected):
    assert PiiScrubber().scrub(text) == expected


@pytest.mark.parametrize("text", FAMILY_UNTOUCHED)
def test_family_rules_leave_ordinary_text(text):
    assert PiiScrubber().scrub(text) == text


def test_digit_free_text_skips_digit_kinds_but_keeps_names():
    scrubber = PiiScrubber()
    assert scrubber.scrub("my sister Aroha called, no numbers here") == "my sister [NAME] called, no numbers here"
    assert dict(scrubber.counts) == {"name": 1}


@pytest.mark.parametrize("text, kept", [
    ("Deepika auntie rings me every morning", "auntie rings me"),
    ("I told Ravi uncle I'm not coming", "uncle I'm not coming"),
    ("Kenji-san from the dojo noticed", "-san from the dojo"),
])
def test_a_kinship_word_or_honorific_after_a_name_marks_it(text, kept):
    out = PiiScrubber().scrub(text)
    assert out.startswith("[NAME]") or "[NAME]" in out
    assert kept in out


def test_a_kinship_word_alone_is_no_name():
    for text in ("My auntie said no", "The Uncle ran off", "my uncle is kind"):
        assert "[NAME]" not in PiiScrubber().scrub(text)


@pytest.mark.parametrize("text, scrubbed", [
    ("my ex Jae-won logged in again", "my ex [NAME] logged in again"),
    ("My psychiatrist is Dr. Eun-ji Park, she said", "My psychiatrist is Dr. [NAME], she said"),
    ("I'm on +61 412 555 093 after six", "I'm on [PHONE] after six"),
    ("Member ID on my card: XGH 448 192 007 if needed", "Member ID on my card: [ID] if needed"),
    ("the car was rego XQR 58B I think", "the car was rego [ID] I think"),
    ("it happened on saturday the 18th at night", "it happened on [DOB] at night"),
])
def test_structural_spans_from_the_eleventh_set(text, scrubbed):
    """A lower-case second part of a given name, an international prefix before 3-3-3 digits, a
    letter prefix of an ID, the "rego" cue and a lower-case weekday date belong to the identifier."""
    assert PiiScrubber().scrub(text) == scrubbed


@pytest.mark.parametrize("text, scrubbed", [
    ("Self-care is hard this week", "Self-care is hard this week"),
    ("my well-being matters", "my well-being matters"),
    ("Kenji-san said hi", "[NAME]-san said hi"),  # an honorific stays outside the name
])
def test_lower_case_hyphen_parts_only_extend_a_name(text, scrubbed):
    assert PiiScrubber().scrub(text) == scrubbed


@pytest.mark.parametrize("text, scrubbed", [
    ("I'm living at 14 Kilmacud Road Upper, Stillorgan, Co. Dublin with my brother", "I'm living at [ADDRESS] with my brother"),
    ("walk home to 17 Boundary Rd, Observatory, Cape Town, 7925 at 2am", "walk home to [ADDRESS] at 2am"),
    ("my dad is still at No. 5 Okigwe Road, Owerri and he says", "my dad is still at [ADDRESS] and he says"),
    ("Jussi Härkönen from my old job keeps staring", "[NAME] from my old job keeps staring"),
    ("I live at 12 Oak Road, Leeds, and it is fine", "I live at [ADDRESS], and it is fine"),
])
def test_structural_spans_from_the_twelfth_set(text, scrubbed):
    """An address takes the parts that only ever follow one (Upper, a county, a postcode, a second
    town) and a house-number word before it; a surname takes an undictionaried word before it."""
    assert PiiScrubber().scrub(text) == scrubbed


def test_an_english_word_before_a_surname_stays():
    assert PiiScrubber().scrub("Hello Härkönen, welcome back").startswith("Hello [NAME]")
