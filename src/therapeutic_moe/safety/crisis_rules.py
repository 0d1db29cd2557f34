"""The crisis rules: weighted regular expressions over the normal form from normalize.py.

Two kinds of rule:
- category rules say what a message is about (suicide, self_harm, harm_to_others,
  abuse_in_progress) and how severe it is on its own (low 1, moderate 2, high 3 points);
- context rules add evidence of danger to whatever category is present: means at hand,
  a plan, preparations, a vague intent ("going to do it"), timing. They never fire alone,
  except that two kinds together (say means plus a plan) are enough to infer a crisis.

Every rule has an id that shows up in ``CrisisAssessment.matched_rules`` so a reviewer can
see why a message was flagged. Patterns never see apostrophes ("im", "cant", "ill").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from therapeutic_moe.safety.assessment import RiskLevel

L, M, H = RiskLevel.LOW, RiskLevel.MODERATE, RiskLevel.HIGH
BASE_WEIGHT = {L: 1.0, M: 2.0, H: 3.0}


@dataclass(frozen=True)
class CrisisRule:
    """One weighted pattern."""

    id: str
    pattern: re.Pattern
    category: str | None = None  # None: a context rule
    level: RiskLevel = RiskLevel.NONE  # category rules: severity on its own
    context: str | None = None  # context rules: means, plan, prep, intent, imminent, soon, ...
    weight: float = 0.0
    self_only: bool = False  # skip when the sentence's subject is someone else
    negatable: bool = True  # "never", "not", "no intention of" before it cancel it
    past_sensitive: bool = True  # "used to", "years ago", "in high school" cancel it
    own_negation: bool = False  # the pattern holds its own "not"/"dont": look for negation only before it
    intent_upgrades: bool = False  # "going to", "will", "about to" before it make it high
    implies: str | None = None  # context rules: category to infer when no category rule fired
    unless: re.Pattern | None = None  # sentence-level exception (accidents, idioms, teaching)


def _c(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def category(rule_id, cat, level, pattern, *, unless=None, **kw) -> CrisisRule:
    return CrisisRule(
        id=rule_id, pattern=_c(pattern), category=cat, level=level, weight=BASE_WEIGHT[level],
        unless=_c(unless) if unless else None, **kw,
    )


def context(rule_id, kind, weight, pattern, *, implies=None, unless=None, **kw) -> CrisisRule:
    return CrisisRule(
        id=rule_id, pattern=_c(pattern), context=kind, weight=weight, implies=implies,
        unless=_c(unless) if unless else None, **kw,
    )


# ---- shared fragments ---------------------------------------------------------------
MYSELF = r"my ?self"
SELF_KILL = (
    r"\b(?:(?:kill|kil|killing|killed|off|offing|unalive|unaliving|hang|hanging|shoot|shooting|drown|drowning|poison|poisoning)\s+my ?self"
    r"|(?:end|ending|ended|finish|finishing|take|taking|took)\s+my\s+(?:own\s+)?life"
    r"|end(?:ing)?\s+it\s+all|commit(?:ting)?\s+suicide)\b"
)
PILLS = (r"(?:pills|tablets|meds|medication|medicine|painkillers|capsules|antidepressants|sleeping pills|insulin"
         r"|sedatives|tranquilli[sz]ers|opioids)")
# Medicines named in overdose talk; with a quantity after "took" they mean an overdose taken.
DRUGS = (
    r"(?:lithium|tylenol|paracetamol|acetaminophen|ibuprofen|aspirin|tramadol|oxy\w*|codeine|xanax|benzos?|valium|"
    r"ambien|seroquel|prozac|zoloft|opioids|percocet|vicodin|morphine|fentanyl|heroin|advil|panadol|"
    r"(?:heart|blood pressure|anxiety|sleeping|allergy|thyroid|diabetes)\s+(?:pills|tablets|meds))"
)
# How much was taken: enough that it is an overdose, not a dose ("took 2 tablets" stays out).
OVERDOSE_AMOUNT = (
    r"(?:a\s+(?:whole\s+|full\s+|entire\s+)?(?:bottle|bunch|handful|load|lot|pack|packet|box|strip|month|weeks?)\s+(?:worth\s+)?of"
    r"|(?:all|every one)\s+(?:of\s+)?(?:my|the|those|these)|the\s+(?:whole|entire|full|rest of the)\s+(?:bottle|pack|packet|box|prescription|lot)(?:\s+of)?"
    r"|(?:like\s+|about\s+|around\s+|over\s+|maybe\s+)?(?:[1-9]\d+(?!\s*(?:mg|ml|mcg|milligrams?|units?|minutes?|mins?|hours?|years?|days?))"
    r"|twenty|thirty|forty|fifty|sixty|a hundred|dozens of|so many|too many|way too many))"
)
# What makes a goodbye final rather than ordinary: "for the last time", "once I'm gone".
FINALITY = (
    r"(?:\b(?:once|after|when)\s+im\s+(?:gone|dead|not (?:here|around))\b"
    r"|\bafter\s+i\s+(?:die|am gone|am dead)\b|\bbecause\s+i\s+(?:wont|will not)\s+(?:be\s+(?:here|around|alive)|need\s+(?:it|them|any of it|anything))\b(?!\s+(?:next|this|for|until|till|on|in|at|during|tomorrow|over))"
    r"|\bremember\s+me\s+by\b|\btold\s+(?:her|him|them)\s+to\s+remember\s+me\b|\bwhen\s+they\s+find\s+me\b"
    r"|\b(?:they|she|he)(?:ll| will)\s+find\s+(?:them|it|the \w+)\s+after(?:wards)?\b|\b(?:for|one)\s+(?:the\s+)?(?:last|final)\s+time\b"
    r"|\bdoesnt know it was the last\b)"
)
# Acts that settle things for others; next to FINALITY they are preparations.
ARRANGING = r"gave|given|giving|sold|signed|left|sorted|made sure|arranged|wrote|told|said goodbye|hugged|visit\w*|paid|found|cleared|cleaned"
# Goodbyes that belong to leaving a job, moving or mourning someone else.
ORDINARY_FAREWELL = (
    r"\b(?:job|company|team|colleagues?|coworkers?|co workers|retir\w*|moving|move|new job|last day|party|funeral|grave|hospice|"
    r"memorial|passed away|died|burial|holiday|vacation|trip|airport|graduat\w*|semester|school year)\b"
)
WEAPON = r"(?:gun|pistol|rifle|shotgun|firearm|knife|knives|rope|noose|razor|razors|blade|blades|bullets|poison)"
RELATION = (
    r"(?:boss|ex|husband|wife|partner|boyfriend|girlfriend|dad|father|mom|mum|mother|stepdad|stepfather|"
    r"stepmom|stepmother|brother|sister|son|daughter|kids?|children|child|baby|roommate|neighbou?r|"
    r"coworker|co worker|colleague|teacher|classmate|friend|uncle|aunt|family|cousin|landlord|manager|"
    r"flatmate|housemate|stepbrother|stepsister|grandad|grandpa|grandma|nan)"
)
PERSON = (
    rf"(?:him|her|them|someone|somebody|people|everyone|everybody|my\s+(?:\w+\s+)?{RELATION}s?\b"
    r"|(?:this|that|the|a)\s+(?:guy|man|woman|girl|boy|person|teacher|kid|classmate|coworker|stranger))"
)
ABUSER = (
    r"(?:\bhe\b|\bshe\b|\bthey\b|\bmy\s+(?:\w+\s+)?(?:husband|wife|partner|boyfriend|girlfriend|bf|gf|ex|dad|"
    r"father|mom|mum|mother|stepdad|stepfather|stepmom|stepmother|brother|sister|uncle|aunt|grandpa|"
    r"grandfather|grandma|grandad|cousin|parents?|fiance|fiancee|spouse|roommate|coach|teacher|stepbrother|stepsister"
    r"|step brother|step sister|brother in law|lodger|flatmate|housemate)\b)"
)
VICTIM = r"(?:me|us|her|him|my\s+(?:mom|mum|mother|dad|sister|brother|kids?|children|baby|son|daughter)|the\s+kids)\b"
ABUSE_ING = r"(?:hitting|beating|choking|hurting|abusing|attacking|threatening|strangling|kicking|punching|slapping|touching|raping|molesting)"
ABUSE_PRESENT = (
    r"(?:hits|beats|chokes|strangles|kicks|punches|slaps|hurts|abuses|rapes|molests|assaults|threatens|"
    rf"shoves|attacks|touches|(?:is|are|keeps|keep|been|has been|have been)\s+(?:always\s+)?{ABUSE_ING})"
)
DISTANT_PAST = _c(
    r"\b(?:used to|years ago|a year ago|last year|long time ago|in the past|growing up|back then|back in"
    r"|(?:when|while)\s+i\s+was\s+(?:a\s+|in\s+|little|young|younger|\d+|\w+teen|twenty|thirty|small)"
    r"|in\s+(?:high school|middle school|college|university|uni|my teens|my twenties|\d{4})"
    r"|as\s+a\s+(?:kid|child|teen|teenager)|(?:months|years)\s+(?:clean|sober|ago))\b"
)
PRESENT_AGAIN = _c(
    r"\b(?:again|still|lately|recently|these days|right now|currently|tonight|today|relapse\w*|anymore"
    r"|every day|everyday|all the time|constantly)\b|(?<!years )(?<!months )(?<!while )\bnow\b"
)
# A message that says in so many words that the risk is over ("i'm in a good place now",
# "1000 days clean", "therapy helped", "i don't feel like that anymore"). With it, and with
# nothing in the message saying the risk is back (RISK_IS_BACK), a rule match in a sentence
# told in the past (PAST_TELLING) is history, not a crisis: the people who write these are
# often in recovery, and a crisis reply to "five years clean today" tells them they were not
# heard. A sentence in the present ("i want to die") still counts, resolved words or not.
_NOT = r"(?<!not )(?<!never )(?<!isnt )(?<!wasnt )(?<!arent )"
RESOLVED = _c(
    _NOT + r"\b(?:(?:im|i am|feeling|doing|things are|life is|its)\s+(?:(?!not\b|never\b|no\b)\w+\s+){0,2}"
    r"(?:fine|okay|ok|well|good|better|happy|great|safe|stable|different|in a good place)\s+now"
    r"|now\s+(?:im|i am)\s+(?:(?!not\b|never\b|no\b)\w+\s+){0,2}(?:fine|okay|ok|well|good|better|happy|great|safe|stable)"
    r"|in recovery|(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:days|weeks|months|years)\s+(?:clean|strong|free)"
    r"|(?:clean|free) (?:for|since) |stayed stopped|(?:went|gone|faded) away|(?:they|it|that) (?:passed|faded)"
    r"|(?:theyve|they have|its|it has|thats|that has|theyre|theyre all) (?:gone|over)\b(?! (?:again|back))"
    r"|(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a few|some) (?:years|months) on\b"
    r"|now (?:i|im) (?:a |an )?(?:volunteer|mentor|grandad|grandma|grandparent|nurse|counsell?or|peer supporter)\w*"
    r"|found me in time|(?:this|next) (?:christmas|year|summer) (?:im|i am) (?:hosting|going|getting|starting)"
    r"|(?:im|i am) past it|behind me now|(?:a )?different (?:lifetime|life|person)|not for years"
    r"|havent (?:in|for) (?:a long time|years|ages)|(?:therapy|treatment|meds|medication|dbt|cbt|counselling|counseling)"
    r"(?: \w+)? helped|got (?:help|treated|treatment|better)|never went through with it"
    r"|proud of (?:that|staying|being|how|myself|me)|closing a chapter|(?:dont|do not) (?:feel|think) (?:like )?that anymore"
    r"|(?:dont|do not) (?:believe|have|get) (?:that|them|those|it) anymore|(?:hes|shes|thats) not me anymore"
    r"|not (?:anymore|any more)$|(?:years|months) ago today|now i (?:want|choose|get) to live|i want to live now"
    r"|(?:im|i am) now (?:a|an) (?!(?:\w+ )?(?:mess|wreck|burden|danger|risk)\b))\b"
)
# Not PRESENT_AGAIN: "now", "today", "anymore" and "every day" are how resolved messages speak
# ("i'm fine now", "five years ago today"), so only words that put the risk back count here.
RISK_IS_BACK = _c(
    r"\b(?:again|still|lately|recently|these days|right now|currently|tonight|relaps\w*|creeping back|coming back"
    r"|came back|come back|back again|returned|returning|starting to|started to|scared it|afraid it|worried it"
    r"|yesterday|last night|this (?:morning|afternoon|evening|week)|earlier|tomorrow|just (?:took|swallowed|cut|did|tried|drank)"
    r"|(?:an?|\d+|few|couple of) (?:minutes?|hours?|days?) ago)\b"
)
PAST_TELLING = _c(
    r"\b(?:was|were|had|used to|tried|wrote|gave|stood|thought|wanted|felt|harmed|hurt|stopped|since|ago|back when"
    r"|once|clean|free|recovery|last (?:winter|summer|spring|autumn|fall|year|month))\b"
)
NEGATORS = frozenset(
    "not never no dont doesnt didnt wont wouldnt isnt arent wasnt havent hasnt hadnt nor neither".split()
)
# A negator followed by one of these does not deny the risk ("not sure i want to live").
NEGATION_EXCEPTIONS = frozenset("sure that longer one even know care matter idea".split())
# Fear of acting is not intent: "afraid I'm going to hurt my baby" stays moderate.
FEAR_WORDS = _c(r"\b(?:afraid|scared|worried|terrified|fear|frightened|panic\w*)\b")
INTENT_WORDS = _c(r"\b(?:going to|about to|planning (?:to|on)|plan to|decided to|ready to|will|ill|finally)\b")
THIRD_PERSON = _c(
    rf"\b(?:he|she|they|hes|shes|theyre|hed|theyd|theyve|theyll|someone|somebody|people|everyone|everybody|my\s+(?:\w+\s+)?(?:{RELATION}|client|patient|student|teen|teenager|\d+\s*year\s*olds?)s?)\b"
    # "she'd" loses its apostrophe in the normal form; "shed" is a word too, so only before a verb
    r"|\bshed(?=\s+(?:be|rather|never|have|want|like|wish|do|go|end|kill|take)\b)"
)
FIRST_PERSON = _c(r"\b(?:i|im|ive|id|ill|me|my ?self)\b")
EDUCATIONAL = (
    r"\b(?:signs? of|warning signs|what is|what are|why do people|why does|prevention|awareness|"
    r"statistics|research|learn\w* about|class|lecture|documentary|article|book|movie|show|(?:talk|speak)\w* to (?:my|a|the|our) \w+ about)\b"
)
# Songs, films, games and stories: "the song about standing on a bridge", "anime that end with a
# girl jumping off the roof", "i killed myself like 40 times on the lava jump". The semantic
# detector still reads these sentences; the rules step back.
MEDIA = (
    r"\b(?:song|songs|lyrics|album|anime|manga|film|films|movie|movies|episode|series|show|novel|book|character"
    r"|scene|trope|plot|boss fight|level|respawn\w*|checkpoint|speedrun\w*)\b"
    r"|\b(?:killed|died|kill|die)\s+(?:my ?self\s+)?(?:like\s+)?\d+\s+times\b"
)
# "if I see one more mole question I'll hang myself": hyperbole about a small annoyance
HYPERBOLE = r"\bif\s+i\s+(?:\w+\s+){0,4}(?:one more|1 more|another single)\b"
# "if my brother spoils the finale one more time I'm going to strangle him lol": a joke about
# someone close, unless the writer says it is none
JOKING_THREAT = (r"\bif\s+(?:\w+\s+){0,5}(?:one more time|once more|again)\b.{0,60}\b(?:lol|lmao|haha\w*|jk)\b"
                 r"(?!.*\b(?:not joking|no joke|im serious|i mean it)\b)")
ACCIDENT = (
    r"\b(?:shaving|shave|cooking|cook|kitchen|stove|oven|chopping|gym|lifting|accident\w*|by mistake|"
    r"playing|fell|fall|tripped|slipped|running|workout|soccer|football|sports?|hiking|on (?:a|the|some) "
    r"(?!purpose)\w+)\b"
)

# ---- category rules ------------------------------------------------------------------
S, SH, HO, AB = "suicide", "self_harm", "harm_to_others", "abuse_in_progress"

CATEGORY_RULES: tuple[CrisisRule, ...] = (
    # suicide: high on their own (method seeking, attempts, preparations)
    category("suicide.method_seeking", S, H,
             r"\bhow (?:many|much)\b.{0,80}?\b(?:die|kill|fatal|lethal|deadly|not wake up|overdose|end (?:it|my life))\b",
             unless=r"\b(?:weeds?|bugs?|pests?|bacteria|germs?|mice|rats?|plants?|time|kill for)\b", own_negation=True),
    category("suicide.painless_way", S, H,
             r"\b(?:painless\w*|quickest|quick|easiest|easy|fastest|surest|best|effective|peaceful|least painful)\s+"
             r"(?:way|ways|method|methods)\s+(?:to|of)\s+(?:die|dying|kill (?:my ?self|yourself)|end (?:it|my life|your life)|commit suicide|suicide)", self_only=True),
    category("suicide.how_to", S, H,
             rf"\bhow\s+(?:to|do i|can i|could i|would i|do you|should i)\s+(?:kill {MYSELF}|kill yourself|commit suicide|end my life|overdose|hang {MYSELF}|slit my)"),
    # "would that be enough to stop me waking up": a lethality question without "how many"
    category("suicide.enough_to_die", S, H,
             r"\benough\s+to\s+(?:stop me (?:from )?waking(?: up)?|not wake up|never wake up|stop my heart)\b",
             self_only=True),
    # "wat is the lethel dos": the misspellings people type in a hurry
    category("suicide.lethal_dose", S, H, r"\b(?:lethal|lethel|leathal|lethul|letal|lehtal|fatal|deadly)\s+"
             r"(?:dose|doses|dos|doze|dosage|amount|quantity|number)\b"),
    category("suicide.attempt", S, H, rf"\b(?:tried|try|trying|attempted|attempt)\s+(?:to\s+)?{SELF_KILL}|\battempted suicide\b"),
    category("suicide.took_pills", S, H,
             r"\b(?:took|taken|swallowed|downed)\s+(?:a\s+(?:whole\s+)?(?:bottle|bunch|handful|load|lot|pack|box)\s+of|all\s+(?:of\s+)?(?:my|the)"
             rf"|\d+|twenty|thirty|forty|fifty|a hundred|dozens of|so many|too many)\s+(?:of\s+)?(?:my\s+|the\s+)?(?:\w+\s+)?{PILLS}",
             unless=r"\b(?:doctor said|as prescribed|as directed|like (?:i was|im) supposed to)\b"),
    category("suicide.stockpiling", S, H,
             rf"\b(?:saving|saved|stockpil\w*|hoard\w*|stash\w*|collect\w*|counted out|counting out|gathering)\s+(?:up\s+)?(?:all\s+)?(?:of\s+)?(?:my\s+|the\s+|some\s+)?(?:\w+\s+)?{PILLS}"
             rf"|\b{PILLS}\s+(?:\w+\s+)?(?:counted out|saved up|stockpiled|lined up)"),
    category("suicide.note", S, H, r"\b(?:my|wrote|written|writing|write|left)\b.{0,15}\b(?:suicide|goodbye) (?:note|letter)s?\b", own_negation=True),
    category("suicide.noose", S, H, r"\b(?:tied|tie|made|make|making|tying|bought|have|got)\s+(?:a\s+|the\s+|my\s+)?noose\b"),
    category("suicide.weapon_on_self", S, H,
             r"\b(?:use|using)\s+it\s+on\s+my ?self|\b(?:use|using|point|pointing|put|putting|hold|holding)\s+(?:the|a|my|his|her)\s+(?:gun|pistol|rifle|knife|blade)\s+(?:on|to|against)\s+(?:my ?self|my head|my temple|my throat|my chest)"),
    category("suicide.car_garage", S, H, r"(?:garage|car)\b.{0,40}\bengine\s+running|\bengine\s+running\b.{0,40}\bgarage", own_negation=True),
    # suicide: an overdose or attempt already done, stated plainly
    category("suicide.overdose_taken", S, H,
             rf"\b(?:took|taken|swallowed|downed|ate|had|popped)\s+{OVERDOSE_AMOUNT}\s+(?:of\s+)?(?:my\s+|the\s+|my \w+s\s+)?(?:\w+\s+)?(?:{PILLS}|{DRUGS})\b"
             r"|\b(?:took|taken|swallowed|downed)\s+(?:everything|every pill|every tablet|all the pills|all the meds)\s+(?:in|from)\s+(?:the|my)\s+(?:\w+\s+)?(?:cabinet|cupboard|house|drawer|pill ?box|organi[sz]er)"
             rf"|\b(?:downed|swallowed|emptied)\s+(?:my\s+)?(?:entire|whole)\s+(?:prescription|bottle|pack|supply)"
             r"|\b(?:took|taken|swallowed|downed)\s+(?:the|a|my)\s+(?:whole|entire|full)\s+(?:bottle|pack|packet|box)\b(?!\s+of\s+(?:water|wine|beer|vodka|juice|soda|milk))",
             self_only=True, unless=r"\b(?:vitamins?|gummies|by mistake|accident\w*|prescribed|doctor said|as directed)\b"),
    # second-language telling: "I already eat many sleeping pill, maybe 20"; "already"/"just" makes
    # it done now, not a daily regimen ("I take many pills for my heart")
    category("suicide.overdose_taken_plain", S, H,
             r"\b(?:already|just)\s+(?:eat|ate|eaten|take|took|taken|swallow\w*|drink|drank)\s+"
             r"(?:many|so many|too many|too much|a lot of|lot of|lots of)\s+(?:\w+\s+)?(?:pills?|tablets?|meds|medicines?|medication|capsules?)\b",
             self_only=True, unless=r"\b(?:vitamins?|gummies|by mistake|accident\w*|prescribed|doctor said|as directed)\b"),
    category("suicide.overdosed", S, H,
             r"(?<!case )(?<!if )(?<!when )(?<!might )(?<!before )\b(?:i|ive|i have)\s+(?:just\s+|already\s+|now\s+)?(?:overdosed|odd|overdose|taken an overdose|took an overdose)\b(?!\s+on\s+(?:caffeine|coffee|sugar|chocolate|tv|netflix))"
             r"|\boverdid\s+it\s+on\s+(?:my|the)\s+(?:\w+\s+)?(?:meds|pills|medication|tablets)\b.{0,30}\b(?:on purpose|deliberately|intentionally)",
             self_only=True),
    category("suicide.drank_poison", S, H,
             r"\b(?:drank|drunk|swallowed|downed|ingested)\s+(?:some\s+|the\s+|a\s+(?:bottle|cup|glass|mouthful)\s+of\s+)?(?:\w+\s+)?"
             r"(?:bleach|poison|antifreeze|drain cleaner|pesticide|weed ?killer|rat poison|lye|paint thinner)\b",
             self_only=True, unless=r"\b(?:dog|cat|puppy|kitten|toddler|accident\w*|by mistake|movie|film|show|book)\b"),
    category("suicide.attempt_recent", S, H,
             r"\bi\s+(?:just\s+|already\s+)?(?:(?:attempted|made an attempt)\b(?!\s+(?:the|a|an|my|to|it|this|that|his|her|their|some|another|one|two|three|several)\b)"
             r"|tried to end (?:it|things|everything)\b(?!\s+(?:with|between)\b))"
             r"(?=.{0,30}\b(?:last night|yesterday|today|tonight|this (?:morning|afternoon|evening|week)|earlier|ago|again|nobody knows|no one knows|woke up))",
             self_only=True),
    # suicide: preparations stated plainly (the context rule "prep" adds to other talk; these stand alone)
    category("suicide.goodbye_message", S, H,
             r"\b(?:goodbye|farewell)\s+(?:notes?|letters?|videos?|messages?|voicemails?|recordings?)\b"
             r"|\b(?:this is|these are|here is|heres)\s+my\s+(?:last|final)\s+(?:message|post|words|letter|note|text)\b(?!\s+(?:for (?:today|tonight|now|the day|a while)|before|until|till|of the day))"
             r"|\b(?:sent|send|sending|wrote|writing|posted)\s+(?:my\s+|a\s+)?(?:last|final)\s+(?:messages?|texts?|posts?|words|letters?|emails?)\s+to\s+(?:everyone|everybody|my|all|the people|anyone)",
             unless=ORDINARY_FAREWELL),
    category("suicide.letters_for_after", S, H,
             r"\b(?:wrote|written|writing|write|left|finished)\s+(?:\w+\s+){0,2}?(?:letters?|notes?)\s+(?:to|for)\s+(?:everyone|everybody|all of (?:them|you)|each of|every one of|the people i love)"
             r"|\b(?:letters?|notes?)\b.{0,60}\b(?:explain\w* why|to open after|find them after|read them after|when im gone|after im gone)",
             unless=ORDINARY_FAREWELL),
    category("suicide.giving_away", S, H,
             r"\b(?:giv\w*|gave|given|hand\w*)\s+(?:away\s+)?(?:all\s+)?(?:of\s+)?my\s+(?:\w+\s+){0,2}?(?:things|stuff|belongings|possessions|everything)\s+away\b"
             r"|\bgiv\w*\s+away\s+(?:all\s+(?:of\s+)?)?(?:my|everything i)\b(?!\s+(?:old clothes|clothes|baby|kids|spare|extra))"
             r"|\b(?:gave|given|giving|give|rehom\w*)\s+(?:away\s+)?my\s+(?:\w+\s+)?(?:dog|cat|pets?|puppy|kitten|rabbits?|bird|parrot|hamster)\s+(?:away\b|to\s+)",
             unless=r"\b(?:moving|move|allerg\w*|travel\w*|vacation|holiday|while i|for the (?:week|weekend)|until|landlord|new (?:flat|apartment|house|place|job)|cant afford|shelter|walk|feed\w*|sit\w*)\b"),
    category("suicide.final_arrangements", S, H,
             rf"\b(?:{ARRANGING})\b.{{0,80}}{FINALITY}"
             r"|\b(?:call\w*|text\w*|visit\w*|messag\w*|phon\w*|ring\w*)\s+(?:everyone|everybody|all\s+(?:of\s+)?(?:my|the)\s+\w+|the people)\b.{0,30}\bto\s+say\s+goodbye"
             r"|\b(?:final|last)\s+goodbyes?\b|\b(?:put|got|sorted|arranged|arranging|putting)\s+(?:all\s+)?my\s+affairs\b",
             unless=ORDINARY_FAREWELL, own_negation=True),
    # suicide: active thoughts (moderate; "going to"/"will" in front makes them high)
    category("suicide.kill_self", S, M, SELF_KILL, intent_upgrades=True, self_only=True,
             unless=MEDIA + "|" + HYPERBOLE),
    # "doing the big sleep with my meds" (not "watching The Big Sleep")
    category("suicide.big_sleep", S, H, r"\b(?:do|doing|did|take|taking|have|having|go for|going for|try|trying)\s+the\s+big\s+(?:sleep|nap)\b",
             self_only=True),
    category("suicide.unalive", S, M, r"\bunalive\b(?!\s+(?:him|her|them|someone|somebody|my\s+\w+))", self_only=True, intent_upgrades=True),
    category("suicide.want_to_die", S, M, r"\b(?:want|wants|wanted|wanting|need|ready)\s+to\s+die\b", self_only=True),
    category("suicide.suicidal", S, M,
             r"\b(?:i|im|ive|id|been|feel|feeling|felt|get|getting|am|so|very|really|pretty|kinda|kind of)\s+(?:\w+\s+){0,2}?suicidal\b",
             self_only=True, unless=r"\b(?:asked|ask|asks|asking)\s+(?:me\s+)?(?:if|whether|about)\b"),
    category("suicide.suicidal_thoughts", S, M, r"\bsuicidal\s+(?:thoughts?|ideation|feelings?|urges?|thinking|episode)", self_only=True,
             unless=EDUCATIONAL + r"|\b(?:asked|ask|asks|asking)\s+(?:me\s+)?(?:if|whether|about)\b"),
    category("suicide.thinking_suicide", S, M, r"\b(?:think|thinking|thought|thoughts)\s+(?:about|of)\s+suicide\b", self_only=True,
             unless=EDUCATIONAL),
    category("suicide.way_out", S, M,
             r"\bsuicide\b.{0,30}\b(?:on my mind|only (?:way|option|answer|choice)|way out|the answer|tempting|appealing|best option)", own_negation=True),
    category("suicide.end_for_good", S, M,
             r"\bend(?:ing)?\s+(?:things|it|everything)\s+(?:for good|forever|permanently|once and for all)|\bend(?:ing)?\s+everything\b(?!\s+(?:with|between))",
             self_only=True, intent_upgrades=True),
    category("suicide.jump", S, M,
             r"\bjump\w*\s+(?:off|from|in front of|out of|into)\s+(?:a\s+|the\s+|my\s+|this\s+|that\s+)?(?:\w+\s+)?"
             r"(?:bridge|building|roof|rooftop|train|subway|cliff|balcony|garage|overpass|window|ledge|tower|highway|traffic|truck|bus)\b",
             self_only=True, intent_upgrades=True, unless=MEDIA),
    category("suicide.going_to_jump", S, M,
             r"\b(?:going to|about to|ready to)\s+jump\b(?!\s+(?:on|at|in|into|for|right|ahead|back|up|start|ship|through|over|to|the gun|rope|around|out of (?:a|the) plane))",
             unless=r"\b(?:skydiv\w*|bungee|parachute|pool|trampoline|plane)\b"),
    # "i wanted to go over the rail", "part of me wants to go over the edge"
    category("suicide.go_over", S, M,
             r"\b(?:want|wanted|wanting|urge|tempted|going|about|ready|close)\s+to\s+(?:go|climb|step|throw my ?self)\s+over\s+"
             r"(?:the\s+|that\s+|this\s+)?(?:rail|railing|railings|edge|side|barrier|balcony|parapet|wall)\b",
             self_only=True, intent_upgrades=True, unless=MEDIA),
    category("suicide.at_height", S, M,
             r"\b(?:standing|sitting|stood|sat)\s+(?:on|at)\s+(?:the\s+|a\s+|this\s+)?(?:edge of (?:the |a )?\w+|ledge|railing|bridge|roof|rooftop|cliff)\b",
             unless=r"\b(?:photos?|pictures?|view|selfie|sunset|tour|hike|hiking|fishing)\b|" + MEDIA),
    category("suicide.drive_into", S, M,
             r"\bdriv\w*\s+(?:my\s+car\s+|the\s+car\s+|it\s+)?(?:into|off)\s+(?:a\s+|the\s+)?(?:wall|tree|cliff|bridge|river|lake|oncoming traffic|traffic|pole|truck)",
             self_only=True, intent_upgrades=True),
    category("suicide.step_in_front", S, M, r"\bstep\w*\s+in\s+front\s+of\s+(?:a|the)\s+(?:train|bus|car|truck)", self_only=True, intent_upgrades=True),
    category("suicide.take_them_all", S, M,
             rf"\b(?:going to|about to|will|ill|want to|wanting to|planning to|plan to|urge to|tempted to|think\w* (?:about|of)|thought (?:about|of))\s+(?:take|taking|swallow|swallowing)\s+(?:them all|all of them|all (?:of )?(?:my|the|these|those)\s+(?:\w+\s+)?{PILLS}|the whole bottle|every (?:one|pill|last one))",
             self_only=True, intent_upgrades=True),
    category("suicide.end_it", S, M, r"\b(?:going to|about to|ready to|want to|will|ill)\s+end\s+it\b(?!\s+(?:with|between|early|now|here|for (?:us|them)))",
             self_only=True, intent_upgrades=True),
    category("suicide.want_it_to_end", S, L,
             r"\bwant\s+(?:it\s+all|everything|my life|all of this)\s+to\s+(?:end|be over|stop)\b"),
    category("suicide.easier_if_dead", S, L,
             r"\b(?:easier|better|simpler|happier)\s+if\s+i\s+(?:was|were)\s+(?:dead|gone)\b|\b(?:easier|better|simpler|happier)\s+if\s+i\s+(?:died|didnt exist|wasnt (?:here|around|alive)|werent (?:here|around|alive))",
             own_negation=True),
    category("suicide.stop_living", S, M, r"\b(?:want|wanted|need)\s+to\s+stop\s+(?:living|existing|breathing|being alive)\b", self_only=True),
    category("suicide.method_research", S, H,
             r"\b(?:research\w*|look\w* up|googl\w*|search\w*|read\w* about)\s+(?:\w+\s+)?(?:ways|how|methods)\s+to\s+" + SELF_KILL),
    category("suicide.ending_it", S, M, r"\b(?:think\w*|thought)\s+(?:about|of)\s+ending\s+it\b(?!\s+(?:with|between|all|early))",
             self_only=True),
    category("suicide.overdose", S, M,
             r"\b(?:going to|want to|about to|planning to|plan to|will|ill|thinking (?:about|of)|thought about|urge to|tempted to)\s+(?:\w+\s+){0,2}?(?:overdose|overdosing|od)\b",
             self_only=True, intent_upgrades=True),
    # suicide: passive wish to be dead, hopelessness about living (low)
    category("suicide.wish_dead", S, L,
             r"\bwish\w*\s+(?:that\s+)?i\s+(?:was|were|could be|would be)\s+dead\b|\bbetter off dead\b|\brather be dead\b"),
    category("suicide.never_born", S, L,
             r"\bwish\w*\s+(?:that\s+)?i\s+(?:was|were|had|hadnt)\s+(?:never|not)\s+(?:been\s+)?born\b|\bwish\w*\s+i\s+(?:wasnt|werent)\s+born\b",
             own_negation=True),
    category("suicide.not_wake_up", S, L,
             r"\b(?:wish|hope|want|wanting|pray|sleep)\w*\b.{0,30}\b(?:not|never|dont|didnt|wouldnt)\s+wake\s+up\b|\bsleep\s+(?:forever|and never wake)\b(?!\s+(?:on|this|in|haha|lol))", own_negation=True),
    category("suicide.stop_existing", S, L,
             r"\b(?:stop|cease)\s+existing\b|\b(?:want|wish|wanting)\s+(?:to\s+)?not\s+(?:to\s+)?exist\b|\bnot\s+(?:to\s+)?exist\s+anymore|\bdont\s+want\s+to\s+exist\b|\bwish\w*\s+i\s+(?:didnt|did not)\s+exist\b", own_negation=True),
    category("suicide.disappear_forever", S, L, r"\b(?:disappear|vanish)\w*\s+(?:forever|for good|permanently|from (?:this|the) (?:world|earth))"),
    category("suicide.better_without_me", S, L, r"\b(?:better off|(?:a\s+)?better place|happier|easier)\s+without\s+me\b"
             r"|\bbetter off\b.{0,60}\bwithout me (?:in the way|holding (?:him|her|them|you) back)"),
    category("suicide.nobody_would_notice", S, L,
             r"\b(?:no one|nobody|noone)\s+would\s+(?:even\s+)?(?:miss me|(?:notice|care)\b.{0,15}\bif i (?:was gone|were gone|died|disappeared|wasnt (?:here|around)|killed|ended|was dead|were dead|vanished))", own_negation=True),
    category("suicide.no_point_living", S, L,
             r"\b(?:no|dont see (?:the|any)|dont see a|whats (?:even\s+)?the|what is (?:even\s+)?the|there is no|theres no|lost (?:the|my|all)?)\s*"
             r"(?:point|reason|will)\s+(?:in\s+|of\s+|to\s+|for me to\s+)?(?:living|live|being alive|going on|keep(?:ing)? living|keep(?:ing)? going|staying alive|life)\b", own_negation=True),
    category("suicide.tired_of_living", S, L, r"\b(?:tired|sick|done)\s+(?:of|with)\s+(?:being alive|living|life|existing)\b"),
    category("suicide.dont_want_to_live", S, L,
             r"\bdont\s+want\s+to\s+(?:live|be alive|exist|wake up)\b(?!\s+(?:with|in|at|near|together|there|alone|like that))|\bdont\s+want\s+to\s+be\s+here\s+(?:anymore|any more|on this earth|in this world)", own_negation=True),
    category("suicide.cant_go_on", S, L, r"\b(?:cant|cannot)\s+(?:go on|keep living)\b"),
    category("suicide.not_worth_living", S, L, r"\b(?:life|living)\s+(?:is\s+not|isnt)\s+worth\s+(?:living|it)\b|\bnot\s+worth\s+living\b", own_negation=True),
    category("suicide.wont_be_here", S, L,
             r"\bwont\s+be\s+(?:here|around|alive)\s+(?:much longer|for (?:much )?long|anymore|by|after|tomorrow|next)", negatable=False),
    category("suicide.wouldnt_mind_dying", S, L,
             r"\b(?:if|when)\s+i\s+(?:got|get|was|were)\s+hit\s+by\s+a\s+(?:bus|car|truck|train)\b.{0,40}\b(?:wouldnt|would not|dont)\s+(?:even\s+)?(?:mind|care)"
             r"|\b(?:if|when)\s+i\s+(?:died|die|didnt wake up|never woke up)\b.{0,40}\b(?:wouldnt|would not|dont)\s+(?:mind|care)"
             r"|\bdont care (?:if|whether) i (?:live|die|wake up)"
             r"|\b(?:fine|okay|ok|happy|content|at peace)\s+(?:with\s+)?(?:never|not)\s+waking\s+up\b", negatable=False),
    category("suicide.deserve_to_die", S, L, r"\bi\s+deserve\s+to\s+(?:die|be dead)\b"),
    category("suicide.rather_die_than_live", S, L,
             r"\b(?:rather|prefer to)\s+(?:die|be dead)\s+than\s+(?:live|keep|go on|feel|be alive|face|wake up|deal)"),
    category("suicide.thinking_about_death", S, L, r"\b(?:think|thinking|thought|thoughts)\s+(?:about|of)\s+(?:dying|being dead|my death)\b",
             self_only=True, unless=r"\b(?:afraid|scared|fear|anxious|worry|worried|panic)\b"),
    category("suicide.not_make_it_to", S, L, r"\bnot\s+going\s+to\s+make\s+it\s+(?:to|past|through)\s+(?:my\s+)?(?:birthday|christmas|next|the end|summer|new year)",
             negatable=False),
    # someone else at risk right now
    category("suicide.third_party", S, M,
             rf"\b(?:he|she|they|hes|shes|theyre|my\s+(?:\w+\s+)?{RELATION}|someone i know|a friend)\b.{{0,40}}?"
             r"\b(?:going to|about to|wants? to|planning to|plans to|threaten\w* to|trying to|tried to|will|is going to)\s+(?:\w+\s+)?"
             r"(?:kill\s+(?:her|him|them)sel(?:f|ves)|end\s+(?:her|his|their)\s+(?:own\s+)?life|commit suicide|take\s+(?:her|his|their)\s+(?:own\s+)?life|overdose)\b"
             # reported words, said now: "my friend said she wants to die"
             rf"|\b(?:he|she|they|my\s+(?:\w+\s+)?{RELATION}|someone i know|a friend)\s+(?:just\s+)?(?:says|said|told me|texted(?: me)?|messaged(?: me)?|keeps saying)\s+(?:that\s+)?(?:she|he|they)\s+(?:wants? to die|want to die|is going to die tonight|doesnt want to (?:live|be alive) anymore)\b",
             own_negation=True),
    # self-harm (capped at moderate unless a medical emergency)
    category("self_harm.body", SH, M,
             r"\b(?:cut|cuts|cutting|burn|burns|burned|burnt|burning|hit|hits|hitting|hurt|hurts|hurting|harm|harming|scratch|scratched|scratching|"
             r"punch|punched|punching|stab|stabbed|stabbing|bite|biting|carve|carved|carving)\s+"
             r"(?:my ?self|my\s+(?:own\s+)?(?:arms?|wrists?|legs?|thighs?|skin|stomach|hips?|body|face|hands?|head))\b",
             unless=ACCIDENT, self_only=True),
    category("self_harm.word", SH, M, r"\bself\s+(?:harm\w*|injur\w*|mutilat\w*)", self_only=True, unless=EDUCATIONAL),
    category("self_harm.sh", SH, M,
             r"\b(?:relapse\w*|urges?\s+to|want\s+to|going\s+to|did|do)\s+(?:on\s+|with\s+|into\s+)?sh\b|\bsh\s+(?:again|urges?|scars?)\b"),
    category("self_harm.urge", SH, M,
             r"\b(?:(?:want|wanted|need|needing|urge|urges|tempted|craving|going|about|planning|ready)\s+to|relapse and)\s+(?:cut|burn|bleed|carve)\b"
             r"(?!\s+(?:back|down|ties|off|out|in|up|corners|class|school|my|the|a|an|it|you|him|her|them|people|some|loose|costs|through|across|short|calories|sugar|carbs|hours))",
             self_only=True),
    category("self_harm.cut_again", SH, M,
             r"\bi\s+(?:\w+\s+)?(?:cut|burned|burnt)\s+(?:again|last night|yesterday|today|this morning|tonight|a lot|every day|more)\b"
             r"|\b(?:ive|i have|i)\s+been\s+cutting\b(?!\s+(?:back|down|out|up|off|carbs|sugar|class|corners|costs|it|the|my hair|hair|ties))"
             r"|\b(?:started\s+)?cutting\s+again\b"
             r"|\b(?:resumed|restarted|gone back to|went back to|back to)\s+(?:cutting|burning|self harming|hurting my ?self)\b"
             r"(?!\s+(?:costs?|back|down|corners|carbs|sugar|class|school|hair|my hair|grass|wood|it|the|out|ties|up|off|coupons))"
             r"|\bi\s+(?:already|just)\s+(?:cut|burned|burnt)\b(?=\s*(?:$|,|\.|and\b|again\b|tonight\b|today\b|deep|too\b))", self_only=True),
    # "took the blade out of a pencil sharpener", "prised the blades out of a razor"
    category("self_harm.blade_out", SH, M,
             r"\b(?:took|take|taking|got|get|getting|pulled|prised|pried|popped|snapped)\s+(?:the\s+|a\s+)?blades?\s+out\s+of\b",
             self_only=True, unless=r"\b(?:replace|replacing|change|changing|clean|cleaning|recycl\w*|dispos\w*|safely)\b"),
    category("self_harm.starving", SH, M, r"\bstarv\w*\s+my ?self\b(?!\s+(?:for|until|before|till))", self_only=True),
    category("self_harm.wall", SH, M,
             r"\b(?:punch\w*|hit\w*|bang\w*|slam\w*)\s+(?:\w+\s+)?(?:the\s+|a\s+|my\s+)?(?:wall|door|mirror)\b.{0,50}\b(?:bled|bleed|bleeding|broke|broken|bruised)", own_negation=True),
    category("self_harm.deserve_pain", SH, L, r"\bi\s+deserve\s+(?:to\s+)?(?:hurt|pain|to suffer|suffer|to be punished|to bleed)\b"),
    category("self_harm.emergency", SH, H,
             r"\bcut\s+(?:too\s+)?deep\b|\b(?:wont|will not|cant|doesnt|does not)\s+stop\s+bleeding|\bneed\w*\s+stitches\b|\bbleeding\s+(?:a lot|badly|heavily|everywhere)",
             negatable=False),
    # harm to others
    category("harm_to_others.intent", HO, M,
             r"\b(?:want|wanted|wanting|going to|about to|planning to|plan to|decided to|ready to|will|ill|urge to|tempted to|thinking about|thoughts about|"
             r"thoughts of|fantasi\w+ about|imagin\w+|dream\w* about|keep picturing|picture|feel like|think about|thought about|thinking of|planning on|urges? to)\s+(?:\w+\s+){0,2}?"
             r"(?:kill|killing|murder|murdering|stab|stabbing|shoot|shooting|strangle|strangling|choke|choking|poison|poisoning|hurt|hurting|harm|harming|beat|beating|attack|attacking|"
             r"smother|smothering|suffocate|suffocating|drown|drowning|run over|running over)\s+"
             + PERSON + r"(?!\s+(?:feelings|chances|pride|reputation|career|business|ego|time))",
             self_only=True, intent_upgrades=True, unless=JOKING_THREAT),
    category("harm_to_others.child", HO, M,
             # not "how do i leave him without hurting my kids": their feelings, not harm
             r"\b(?:i|im|ive|id|ill)\s+(?:\w+\s+){0,4}?(?<!without )(?:hurt|harm|hit|shake|smother|smothering|suffocat\w*|drown|drowning|hitting|hurting|shaking|beating|beat|harming|throw\w*)\s+(?:my\s+)?(?:baby|babies|newborn|kids?|children|child|son|daughter|toddler)\b",
             self_only=True),
    category("harm_to_others.shoot_up", HO, H,
             r"\bshoot\w*\s+up\s+(?:my|the|a|this|our)\s+(?:school|office|work|workplace|church|mall|class|college|campus|party)|\bbomb\s+(?:the|my)\s+(?:school|office|work)",
             self_only=True),
    category("harm_to_others.weapon_to_place", HO, H,
             r"\b(?:bring|bringing|take|taking)\s+(?:a|my|the|his|her|my dads|my moms)\s+(?:gun|rifle|pistol|weapon|knife|bomb)\s+to\s+(?:school|work|class|the office|church|campus|the party)",
             self_only=True),
    category("harm_to_others.not_alive", HO, H, r"\b(?:not|never)\s+(?:going\s+to\s+)?(?:walk\s+away|get\s+away|leave|make\s+it\s+out|get\s+out)\b.{0,25}\balive\b",
             negatable=False),
    category("harm_to_others.make_pay", HO, L,
             r"\bmake\s+(?:him|her|them|them all|all of them|everyone|everybody|those people|the people who \w+ me)\s+(?:pay|regret it|sorry)\b(?!\s+for)",
             self_only=True),
    category("harm_to_others.make_suffer", HO, M, r"\bmake\s+(?:him|her|them|them all|all of them|everyone|my\s+\w+)\s+(?:suffer|bleed)\b",
             self_only=True, intent_upgrades=True),
    category("harm_to_others.run_over", HO, M, rf"\b(?:run|running|ran)\s+{PERSON}\s+(?:over|down|off the road)\b|\bset\s+fire\s+to\s+(?:his|her|their|my\s+\w+s)\s+(?:house|flat|apartment|car)\b"
             rf"|\b(?:push|pushing|shove|shoving)\s+{PERSON}\s+(?:down|off|in front of|onto|into|out of)\b",
             self_only=True, intent_upgrades=True, unless=r"\b(?:accident\w*|pool|swing|joking|playing|away)\b"),
    category("harm_to_others.could_and_might", HO, H,
             rf"\bcould\s+(?:actually\s+|really\s+|literally\s+)?(?:kill|strangle|stab|shoot|hurt|murder|choke|beat|smother)\s+{PERSON}.{{0,40}}"
             r"\b(?:i think i (?:might|will|could)|i might actually|i mean it|im not joking|not even joking|for real|seriously|i will)\b",
             self_only=True),
    # abuse happening now
    # not "he kicks me out of the house" or "he playfully hits me" (violence may still follow)
    category("abuse_in_progress.present", AB, M, ABUSER + r".{0,60}?(?<!playfully )(?<!jokingly )(?<!teasingly )\b"
             + ABUSE_PRESENT + r"\s+" + VICTIM + r"(?!\s+out\b)", own_negation=True),
    # "my uncle comes in my room at night when he stays over"
    category("abuse_in_progress.night_visits", AB, M,
             ABUSER + r"\s+(?:\w+\s+)?(?:comes|keeps coming|came|creeps|sneaks|gets|climbs|has been coming)\s+(?:in|into)\s+"
             r"(?:my|our)\s+(?:room|bed|bedroom)\b.{0,40}\b(?:at night|when|while|after)\b"),
    category("abuse_in_progress.present_ing", AB, M, r"\b(?:hes|shes|theyre)\s+(?:\w+\s+)?" + ABUSE_ING + r"\s+" + VICTIM),
    category("abuse_in_progress.recent", AB, M,
             ABUSER + r".{0,30}?\b(?:hit|beat|choked|strangled|kicked|punched|slapped|hurt|raped|assaulted|attacked)\s+(?:me|us)\b.{0,30}\b(?:again|last night|yesterday|today|this morning|tonight)", own_negation=True),
    category("abuse_in_progress.threat", AB, H,
             r"(?:\bthreaten\w*|\b(?:he|she|they|hes|shes|theyre|my\s+(?:\w+\s+)?" + RELATION + r"s?)\b.{0,40}?\b(?:says|say|said|saying|told\s+me|tells\s+me|keeps\s+saying|yell\w*|scream\w*|swears?|swore))\b"
             r".{0,40}?\b(?:kill|hurt|shoot|stab|beat|burn|choke)\s+(?:me|us|the kids|my\s+(?:kids?|children|mom|mum|dad|son|daughter|baby|family|sister|brother))\b",
             unless=r"\bif\s+i\s+(?:fail\w*|forget|forgot|am late|im late|was late|miss\w*|lose|lost|break|broke|eat|ate|wear|get|got|dye|dyed|crash\w*|spend|spent)\b|\b(?:haha\w*|lol|lmao|jk|joking|kidding)\b", own_negation=True),
    category("abuse_in_progress.feared_violence", AB, M,
             r"\b(?:scared|afraid|terrified|worried)\s+(?:that\s+)?" + ABUSER + r"\s+(?:will|is going to|might|could|going to|is gonna)\s+(?:kill|hurt|beat|hit|shoot|stab|choke)\s+(?:me|us|the kids|my\s+\w+)\b"),
    category("abuse_in_progress.control", AB, M,
             r"\b(?:wont|will not|doesnt|does not|never)\s+let\s+me\s+(?:leave|have (?:my )?(?:phone|money|keys)|call (?:anyone|for help|the police))\b"
             r"|\block\w*\s+me\s+(?:in|up)\b", negatable=False),
    category("abuse_in_progress.secret", AB, M,
             r"\b(?:mak\w*|forc\w*)\s+me\s+(?:do|touch|watch)\s+(?:things|stuff)\b.{0,60}\bsecret\b|\bsecret\b.{0,60}\b(?:mak\w*|forc\w*)\s+me\s+(?:do|touch)\b"
             r"|\b(?:touches|touching|touched)\s+me\b.{0,40}\b(?:secret|dont want|dont like|at night|when no one|when nobody|private)", own_negation=True),
    category("abuse_in_progress.being_abused", AB, M,
             r"\b(?:im|i am|ive been|i have been|being|getting)\s+(?:\w+\s+)?(?:abused|beaten|raped|molested|assaulted|strangled|choked)\b"),
)

# ---- someone else at risk ---------------------------------------------------------------
# Rule ids that say the risk is someone else's, not the user's: with only these (and context,
# or the semantic detector, which cannot tell whose risk it reads) the user is a helper.
THIRD_PARTY_RULE_IDS = frozenset({"suicide.third_party"})
# Another person's risk put in words ("my friend said she wants to die", "he took a lot of
# pills"): read by the reply choice, not by detection, so worry alone never becomes a crisis.
SOMEONE_ELSE_AT_RISK = _c(
    rf"\b(?:he|she|they|hes|shes|theyre|someone i know|a friend|my\s+(?:\w+\s+)?(?:{RELATION}|client|patient|student|teen|teenager)s?)\b.{{0,60}}?"
    r"\b(?:wants? to die|wanting to die|suicidal|(?:kill|killing|hurt|hurting|cut|cutting|harm|harming)\s+(?:her|him|them)sel(?:f|ves)"
    r"|end(?:ing)?\s+(?:her|his|their)\s+(?:own\s+)?life|take\s+(?:her|his|their)\s+(?:own\s+)?life|overdos\w*|took\s+(?:a lot of|too many|all|a bottle of|a handful of)\b"
    r"|(?:doesnt|dont|does not|do not)\s+want\s+to\s+(?:live|be alive|be here)|better off dead|(?:goodbye|suicide)\s+(?:note|letter|message|text))"
)


# ---- context rules ---------------------------------------------------------------------
CONTEXT_RULES: tuple[CrisisRule, ...] = (
    context("context.means", "means", 2.0,
            rf"\b(?:have|has|got|bought|buy|buying|found|keep|holding|hold|loaded|grabbed|stole|ive got)\s+(?:a\s+|the\s+|my\s+|some\s+|his\s+|her\s+|enough\s+)?(?:\w+\s+){{0,2}}?(?:{WEAPON}|{PILLS})\b"
            rf"|\b(?:the\s+|my\s+)?(?:{WEAPON}|{PILLS}|bottle)\s*(?:s\s+|is\s+|are\s+)?(?:right\s+)?(?:here|next to me|in my hand|in front of me|ready|loaded)\b"
            r"|\bgun in (?:the|my) (?:drawer|car|closet|house|room|bag)"),
    context("context.high_place", "means", 2.0,
            r"\b(?:on|at|up on|standing on|on top of)\s+(?:the\s+|a\s+|my\s+)?(?:roof|rooftop|ledge|bridge|railing|balcony|cliff|edge)\b",
            unless=r"\b(?:documentary|photos?|pictures?|view|tour|hike|hiking|fishing)\b"),
    context("context.plan", "plan", 2.0,
            r"\b(?:have|got|made|making|ive got|worked out|figured out)\s+(?:a|the|my)\s+plan\b(?!\s+for\b)"
            r"|\bplanned\s+(?:it\s+)?(?:out\s+)?(?:how|when|where|the day|the date|everything|it all)"
            r"|\bpicked\s+(?:out\s+)?(?:the|a)\s+(?:day|date|time|place|spot|bridge)"
            r"|\bknow\s+(?:exactly\s+)?(?:how|where|when)\s+(?:im going to|i will|ill|to|i would|id)\s+(?:do it|go|end)"),
    context("context.target_known", "plan", 2.0,
            r"\bknow\s+where\s+(?:he|she|they|my\s+\w+|his|her)\s+(?:lives|live|works|work|sleeps|parks)\b"
            r"|\b(?:know|picked|chosen|chose|decided)\s+(?:exactly\s+)?(?:who|which\s+(?:\w+\s+){0,5}?)(?:ill|im going to|i will|to|i want to|i am going to)\s+(?:start with|go after|get first|kill|shoot|hurt)"
            r"|\bwaiting\s+(?:outside|near|by|at|in front of)\s+(?:his|her|their|my\s+\w+s)\s+(?:house|place|work|office|school|flat|apartment|car|door)\b"
            r"|\bwaiting\s+for\s+(?:him|her|them)\s+to\s+(?:come out|get home|leave|show up|walk out)", implies=HO),
    context("context.method_thoughts", "method_thoughts", 1.0,
            r"\b(?:think|thinking|thought)\s+about\s+how\s+(?:i would|id|i could|to|i might|i will|ill)\s+do\s+it\b"),
    context("context.preparation", "prep", 1.5,
            r"\b(?:wrote|written|writing|write|left)\s+(?:\w+\s+){0,2}?(?:letters?|notes?|goodbyes?)\b"
            r"|\bthis\s+is\s+(?:my\s+)?goodbye|\bsa(?:y|id|ying)\s+(?:my\s+)?goodbyes?\b|\bgoodbye\s+(?:forever|for good|everyone)"
            r"|\b(?:gave|giving|give|given)\s+(?:away\s+)?(?:all\s+)?(?:of\s+)?my\s+(?:\w+\s+){0,2}?(?:things|stuff|belongings|possessions|cat|dog|pets?|money)\b"
            r"|\bmade\s+(?:my\s+)?peace\b|\b(?:have|got)\s+everything\s+(?:ready|planned|sorted|in place)|\bput\s+my\s+affairs\s+in\s+order"
            r"|\b(?:updated|wrote|made)\s+(?:my|a)\s+will\b", negatable=False),
    context("context.vague_intent", "intent", 1.0,
            r"\b(?:going to|about to|ready to|finally going to|will|ill|decided to)\s+(?:\w+\s+)?(?:do|doing)\s+it\b"
            r"|\b(?:im\s+)?doing\s+it\s+(?:tonight|today|tomorrow|this time|now|soon)\b|\bdo\s+it\s+(?:this time|again)\b"
            r"|\btonight\w*\s+(?:is\s+)?the\s+night\b|\bgo\s+through\s+with\s+it\b"
            r"|\b(?:going to|about to|ready to|want to|will|ill)\s+end\s+it\b(?!\s+(?:with|between|early|now|here))"),
    context("context.imminent", "imminent", 0.5,
            r"\bright\s+(?:now|here)\b|\bat\s+the\s+moment\b|\bas\s+we\s+speak\b|\bin\s+the\s+next\s+room\b|\bon\s+(?:his|her|their)\s+way\b"
            r"|\b(?:at|outside|banging on)\s+(?:my|the)\s+door\b|\bin\s+(?:an|the next|a few)\s+(?:hour|minutes?)\b|\bthis\s+minute\b",
            negatable=False),
    context("context.soon", "soon", 1.0,
            r"\btonight\w*\b|\btoday\b|\btomorrow\b|\bthis\s+(?:weekend|week|evening|afternoon|morning)\b|\bafter\s+(?:work|school|everyone|they|the kids)\b"
            r"|\bon\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\bwhen\s+(?:he|she|they)\s+(?:gets?|comes?)\s+home\b",
            negatable=False, past_sensitive=False),
    context("context.danger_at_home", "danger", 0.5,
            r"\b(?:scared|afraid|terrified)\s+(?:to\s+go\s+home|of\s+(?:him|her|my\s+\w+))\b|\b(?:took|takes|taken)\s+my\s+(?:phone|keys|money|passport)\b",
            implies=AB),
    # Only used across turns: "I can't do this anymore" after earlier crisis talk.
    context("context.endurance", "endurance", 0.0,
            r"\bcant\s+(?:do|take|handle)\s+(?:this|it)\s+(?:anymore|any more|much longer)|\bhow\s+much\s+longer\s+i\s+can\s+(?:keep\s+)?(?:doing|do|take|handle)\s+(?:this|it)"
            r"|\bcant\s+keep\s+(?:doing|going on like)\s+this"),
)

# Timing only sharpens intent: it counts toward a category scored moderate or more, or next
# to another context kind, never toward a passive wish ("I hope I don't wake up tomorrow").
TIMING_KINDS = frozenset({"soon", "imminent"})
# Context weights that differ by category: "right now" means acute danger when someone is
# being hurt, but often just "currently" in talk about suicidal feelings.
CONTEXT_WEIGHT_OVERRIDES = {
    AB: {"imminent": 1.0},
}

# Two of these kinds together are evidence of a crisis even without a category rule.
INFERENCE_KINDS = frozenset({"means", "plan", "prep", "intent", "method_thoughts"})
