"""Regular expressions behind ``pii.py``, grouped by the kind whose placeholder replaces them.

Each kind is a family of HIPAA Safe Harbor identifiers:
- email: addresses, also spelled out ("jess dot m at outlook dot com", "sam[at]proton[dot]me")
- url: web addresses, IP addresses (v4, v6) and social-media handles (online identifiers)
- date_of_birth: every date tied to the person (birth, admission, discharge, appointments):
  day and month, with or without the year, with its weekday ("Thursday 14 November"), and a
  bare month/day after a date word ("on 5/14"). A year alone is kept (Safe Harbor keeps years).
- id_number: SSNs (with or without dashes), cards, and numbers after a cue (medical record,
  health plan, account, licence, policy, case, report, student, ...), vehicle plates after
  a cue, UK, Indian and French/Italian plates without one, VINs, device identifiers (IMEI,
  serials, MAC addresses, UUIDs) and segmented codes such as "4QX9-11RT-0082"
- phone: phone and fax numbers, with extensions, toll-free and international forms
- address: street addresses (US and non-US), PO boxes, ZIP and postal codes (US, UK,
  Canada, Ireland), apartments, counties, and the place after "I live in" / "I'm in" /
  "moved to" (the place right after a street address is added in pii.py)
"""

from __future__ import annotations

import re

Pattern = tuple[re.Pattern, int]  # (pattern, group to replace; 0 = the whole match)

_MONTHS = (r"January|February|March|April|May|June|July|August|September|October|November|December"
           r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec")
_MONTH = rf"(?:{_MONTHS})\b\.?"
# Spanish, Portuguese, French, Italian and German months: "12 de octubre de 1949", "14 juillet 1989"
_FOREIGN_MONTHS = (r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre"
                   r"|diciembre|janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|novembro|dezembro"
                   r"|janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|décembre|gennaio"
                   r"|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|januar|februar|märz"
                   r"|juni|juli|oktober|dezember")
_FOREIGN_MONTH = rf"(?i:{_FOREIGN_MONTHS}|{_MONTHS})\b"
# after the day, "de" or a year must follow so that "3 mars bars" stays: "5. Mai 1960", "3 de março"
FOREIGN_DATE = (rf"(?<![\w/.-])(?:[0-2]?\d|3[01])(?:\.|º|er)?\s+(?:(?i:de)\s+{_FOREIGN_MONTH}(?:\s+(?i:de\s+)?\d{{4}})?"
                rf"|{_FOREIGN_MONTH}\s+(?i:de\s+)?\d{{4}})(?![\w-])")
# German dates need no year: the dot after the day and the capitalised month tell them ("am 22. August")
GERMAN_DATE = (r"(?<![\w/.-])(?:[0-2]?\d|3[01])\.\s+(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September"
               r"|Oktober|November|Dezember)\b")
_MONTH_I = rf"(?i:{_MONTHS})\b\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)"
_ORDINAL_WORD = (r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth"
                 r"|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth"
                 r"|(?:twenty|thirty)[- ](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth))")
_MONTH_DAY = r"(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])"  # 5/14: a month and a day, no year
DATE = (rf"(?:(?:[0-2]?\d|3[01])[/.-](?:[0-2]?\d|3[01])[/.-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}"
        rf"|{_MONTH}\s+{_DAY}(?:,?\s+\d{{4}})?"
        rf"|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?)")
_STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|Terrace"
           r"|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Close|Crescent|Row|Trail|Grove|Kingsway|Gardens"
           r"|Mews|Walk|Hill|Park|Priory|Rise|Vale|Green|Parade|Quay|Wharf|Yard|Alley|Broadway|Esplanade"
           r"|Embankment|Crossing|Loop|Heights)\b\.?")
_UNIT = r"(?:,?\s+(?:Apt|Apartment|Unit|Suite|Ste|Flat|#)\.?\s*#?\w+)?"
_UK_POSTCODE = r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b"
_CA_POSTCODE = r"\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b"
_EIRCODE = r"\b(?:[AC-FHKNPRTV-Y]\d{2}|D6W)\s?[AC-FHKNPRTV-Y\d]{4}\b"
# the town after a street, in any Latin script ("Taupō"), with a four-digit postcode after it ("Taupō 3330")
_TOWN_WORD = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿĀ-ſ'-]+"
_CITY_STATE_ZIP = (rf"(?:,\s+{_TOWN_WORD}(?:\s{_TOWN_WORD})?(?:\s\d{{4}}(?![\w-]))?)?"
                   r"(?:,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"
                   rf"(?:,?\s+(?:{_UK_POSTCODE}|{_CA_POSTCODE}))?")
# Street words that come BEFORE the name in many languages ("rue des Lilas 14", "Calle Mayor 12").
_FOREIGN_STREET_FIRST = (r"(?:rue|bd|chemin|impasse|calle|avenida|av\.|carrer|plaza|paseo"
                         r"|via|viale|piazza|corso|rua|travessa|praça|ulica|ul\.|straat|laan)")
# Street words glued to the end of the name ("Hauptstraße", "Kerkstraat", "Birkenweg").
_FOREIGN_STREET_SUFFIX = r"[A-ZÄÖÜ][\wäöüß]*(?:stra(?:ss|ß)e|str\.|weg|gasse|platz|allee|straat|gatan|gade|vej|veien)"
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-ſ][\w'’-]*"  # a capitalised word (Latin scripts, Polish "Łódź" too)
_ID_CUE = (r"(?:id|identification|account|acct|member|policy|patient|record|mrn|medical record|health plan"
           r"|licen[cs]e|driver'?s licen[cs]e|passport|insurance|claim|case|docket|report|police report"
           r"|incident report|ssn|social security|nhs|student|employee|badge|reference|ref|certificate"
           r"|beneficiary|prescription|rx|confirmation|ticket|booking|routing|iban"
           r"|medicare|medicaid|tricare|health card|national insurance|ni|tin|ein|itin|sin|pps|ppsn|aadhaar"
           r"|green card|visa|alien|uscis|a-number"
           r"|chart|tracking|prisoner|inmate|offender|parole|probation|booking)")
# "Boise, ID 83706": the state Idaho and a ZIP after a town, not the cue "ID"
_NOT_STATE_ZIP = r"(?!(?<=[a-z], )ID\s+\d{5}(?:-\d{4})?(?![\w-]))"
_ID_PREFIX = r"(?:[A-Z]{2,5}[ -](?=\d))?"  # letters before an ID's digits: "HRX 5521-004", "PR 23-041187"
_PLATE_CUE = r"(?:plates?|licen[cs]e plate|registration|reg|rego|tag)"  # "rego": Australian and NZ English
_DEVICE_CUE = r"(?:imei|meid|serial|serial number|serial no|s/n|sn|device id|device identifier|mac address|udid|imsi)"
_NUMBER_WORDS = r"(?:\s*(?:number|no\.?|num|#|id|code))?"
_IS = r"\s*(?:is|was|reads|says|shows|:|#|=)?\s*"
# "serial number of my hearing aid is ...", "device ID on my tracker is ...": what it belongs to
_OF_WHAT = (r"(?:\s+(?:of|on|for|from)\s+(?:(?:my|the|his|her|our|their)\s+[a-z]+(?:\s[a-z]+)?|it|them|this|that)"
            r"(?=\s+(?:is|was)\b))?")
_DOT = r"(?:\.|\s*(?:\(dot\)|\[dot\]|\{dot\})\s*|\s+dot\s+)"
_AT = r"(?:@|\s*(?:\(at\)|\[at\]|\{at\})\s*|\s+at\s+)"
_TLD = (r"(?:com|org|net|edu|gov|io|co|me|us|uk|ca|de|fr|es|it|nl|au|in|ru|jp|br|info|biz|ie|nz|za|ch|se|no"
        r"|hu|pl|cz|pt|gr|ro|at|be|dk|fi|ar|mx|cl|ng|ke|sg|my|ph|th|vn|kr|cn|tw|hk|il|tr|ae|sa|eg|ua|sk|hr|rs|bg"
        r"|lt|lv|ee|is|pk|bd|lk|gh|tz|ug)")

# read out digit by digit: "five five five, two nine one, four four zero six" (no digit in it,
# so the scrubber's digit fast path checks this one apart)
# "nine double-oh": a doubled or tripled digit is one word more
_DIGIT_WORD = r"(?:(?:double|triple)[\s-])?(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
SPELLED_PHONE = re.compile(rf"(?i)\b(?:{_DIGIT_WORD}[\s,-]+){{5,}}{_DIGIT_WORD}\b")

# a date in words has no digit either: "the nineteenth of January"
# "the nineteenth of January", "March the third", "January twenty-second"
_SPELLED_DATE = (rf"(?i:\b(?:the\s+)?{_ORDINAL_WORD}\s+of\s+(?:{_MONTHS}))\b"
                 rf"|\b(?:{_MONTHS})\s+(?i:(?:the\s+)?{_ORDINAL_WORD})\b")
SPELLED_DATE = re.compile(_SPELLED_DATE)
_UNIT_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_YEAR_TAIL = (rf"(?:{_UNIT_WORD}|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
              rf"|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[\s-]{_UNIT_WORD})?|oh[\s-]{_UNIT_WORD})")
# "two thousand twenty-four", "nineteen eighty-seven", "twenty twenty-one": a year in words
SPELLED_YEAR = rf"(?i:two thousand(?:\s+and)?(?:[\s-]+{_YEAR_TAIL})?|(?:nineteen|twenty)[\s-]+{_YEAR_TAIL})\b"

PATTERNS: dict[str, list[Pattern]] = {
    "email": [
        (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), 0),
        (re.compile(rf"(?i)\b[a-z0-9][\w.+-]*\s+@\s+[a-z0-9][\w-]*(?:\s*\.\s*[a-z0-9][\w-]*)*\s*\.\s*{_TLD}\b"), 0),
        # spelled out: a word, "at" in some form, a domain with "dot" in some form, a known TLD
        (re.compile(rf"(?i)\b[a-z0-9][\w.+-]*(?:(?:{_DOT}|\s+(?:underscore|dash|hyphen)\s+)[a-z0-9][\w+-]*)*{_AT}[a-z0-9][\w-]+(?:{_DOT}[a-z0-9][\w-]*)*"
                    rf"{_DOT}{_TLD}\b(?!/)"), 0),  # "a profile at facebook.com/..." is a URL
    ],
    "url": [
        (re.compile(r"\b(?:https?://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]']", re.I), 0),
        (re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|us|uk|info|me|edu|gov|app|ly|de|fr|ca"
                    r"|au|in|nl|es|it|ru|jp|br|dev|ai|tv|xyz|blog|health)"
                    r"(?:/[^\s<>\"]*[^\s<>\".,;:!?)\]'])?(?!\w|\.\w)", re.I), 0),
        # any domain with a path is a web address, whatever its TLD: "photos.eus/portfolio?album=2"
        (re.compile(r"(?<![\w.@/-])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,12}/[^\s<>\"]*[^\s<>\".,;:!?)\]']", re.I), 0),
        (re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.]|\.\d)"), 0),
        (re.compile(r"(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])|(?<![\w:])(?:[0-9a-f]{1,4}:){1,6}:"
                    r"(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?(?![\w:])", re.I), 0),
        # @handle, u/name, name#1234 (Discord), and a handle after a platform cue
        (re.compile(r"(?<![\w.@])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])"), 0),
        (re.compile(r"(?<![\w/])/?u/[A-Za-z0-9_-]{3,20}\b"), 0),
        (re.compile(r"(?<![\w#])[A-Za-z][\w.]{1,30}#\d{4}\b"), 0),
        # CamelCase with three humps ("SleepyLanternLive") or gamer style ("xXShadowMothXx"): a handle
        (re.compile(r"(?<![\w@#/.-])(?!GoFundMe\b)(?=[A-Za-z0-9]*[a-z][A-Z][A-Za-z0-9]*[a-z][A-Z])"
                    r"(?=(?:[a-z0-9]*[A-Z]){3})[A-Za-z][A-Za-z0-9]{5,29}(?![\w@])"), 0),
        # snake_case words are handles in client text ("big_sad_toast"); prose never has them
        (re.compile(r"(?<![\w@#/.-])[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*[A-Za-z0-9](?![\w@])"), 0),
        (re.compile(r"(?i:\b(?:insta(?:gram)?|ig|snap(?:chat)?|tiktok|twitter|discord|telegram|kik|reddit|twitch"
                    r"|user ?name|gamertag|xbox|psn|steam|epic|battle\.?net|roblox|minecraft)\b(?:\s+(?:handle|name|account|user ?name))?[\s,]*"
                    r"(?:is|:|-|i'm|i’m|i am|as|add me|find me|follow me)?\s*(?:(?:me|it)\s+)?)"
                    r"(?!(?i:is|and|but|or|the|me|it|a|an|so|too|account)\b)"
                    r"((?=[\w.]*(?:\d|_|\.\w))[A-Za-z0-9_][\w.]{2,29}[A-Za-z0-9_])"), 1),
        # "the latest is lil.shadow.9921 on insta": the handle before its platform
        (re.compile(r"(?<![\w@.])((?=[\w.]*(?:\d|_|\.\w))[A-Za-z0-9_][\w.]{2,29}[A-Za-z0-9_])(?=\s+on\s+(?i:insta(?:gram)?|ig"
                    r"|tiktok|snap(?:chat)?|twitter|discord|reddit|twitch|telegram|threads|bluesky)\b)"), 1),
    ],
    "date_of_birth": [
        (re.compile(rf"(?i:\bborn(?:\s+on)?|\bdate\s+of\s+birth|\bd\.?o\.?b\.?|\bbirth\s*date|\bbirthday"
                    rf"(?:\s+is)?)\s*(?:is|was|as|:)?\s*({DATE}|\d{{1,2}}/\d{{1,2}}"
                    rf"|{_MONTH_I}\s+{_DAY}\b(?:,?\s+\d{{4}})?|{_DAY}\s+(?:of\s+)?{_MONTH_I}(?:,?\s+\d{{4}})?)"), 1),
        # the weekday goes with the date: "Thursday 14 November" tells the day as much as the date
        # not a house number: "H.No. 8-2-293", "3-8-12 Nishiogi-kita" (Japanese block numbers)
        (re.compile(rf"(?<![\w/.-])(?<!(?i:no)\. )(?:\b{_WEEKDAY}\.?,?\s+(?:the\s+)?)?(?:{DATE})(?![\w/-])"
                    r"(?!\s+[A-Z][a-z]+-[a-z]+)"), 0),
        (re.compile(rf"(?i:\bthe\s+){_DAY}\s+of\s+{_MONTH_I}(?:,?\s+\d{{4}})?"), 0),
        (re.compile(rf"\b{_WEEKDAY}\.?,?\s+the\s+\d{{1,2}}(?:st|nd|rd|th)\b"), 0),
        # typed in lower case too: "on saturday the 18th" (full names only: "sun", "wed" are words)
        (re.compile(r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday),?\s+the\s+\d{1,2}(?:st|nd|rd|th)\b"), 0),
        (re.compile(rf"(?:{_SPELLED_DATE})(?:,?\s+(?:\d{{4}}\b|{SPELLED_YEAR}))?"), 0),  # a date in words, with its year
        (re.compile(FOREIGN_DATE), 0),
        (re.compile(GERMAN_DATE), 0),
        (re.compile(rf"\b{_WEEKDAY}\.?,?\s+{_MONTH_DAY}(?![\w/-]|\.\d)"), 0),
        (re.compile(r"(?i:\b(?:on|since|until|till|by|before|after)\s+)(the\s+\d{1,2}(?:st|nd|rd|th))\b"
                    r"(?!\s+(?:floor|time|try|attempt|day|week|month|year|grade|place|round|step|session|go|row|hole"
                    r"|lap|page|chapter|level|birthday|anniversary|of\b))"), 1),
        (re.compile(rf"(?i:\b(?:on|since|until|till|from|by|before|after)\s+)({_MONTH_I}\s+{_DAY}\b"
                    rf"|{_MONTH_DAY}(?![\w/-]|\.\d))"), 1),
    ],
    "id_number": [
        (re.compile(r"(?<![\w-])\d{3}[- ]\d{2}[- ]\d{4}(?![\w-])"), 0),  # SSN-like
        (re.compile(r"(?<![\w-])\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{4}(?![\w-])"), 0),  # card-like
        (re.compile(rf"{_NOT_STATE_ZIP}(?i:\b{_ID_CUE}\b\.?{_NUMBER_WORDS}{_OF_WHAT}{_IS})"
                    rf"({_ID_PREFIX}(?=[\w-]*\d)[A-Za-z0-9][A-Za-z0-9-]{{2,}}"
                    r"(?:\s\d{3,}){0,3})"), 1),
        (re.compile(rf"(?i:\b(?:ssn|social security)\b{_NUMBER_WORDS}{_IS})(\d{{9}})\b"), 1),
        # after a cue, a plate of up to four groups ("TN 09 BX 4410"); a lone "I" or "A" ends it
        (re.compile(rf"(?i:\b{_PLATE_CUE}\b{_NUMBER_WORDS}(?:,\s*|{_IS}))((?=[A-Z0-9 -]*\d)(?=[A-Z0-9 -]*[A-Z])"
                    r"[A-Z0-9]{1,8}(?:[ -](?!(?:I|A)\b)[A-Z0-9]{1,5}){0,3})\b"), 1),
        # plate formats distinctive enough without a cue: UK "AB12 CDE", India "MH 12 AB 1234", France/Italy "AB-123-CD"
        (re.compile(r"\b[A-Z]{2}\d{2}\s?[A-Z]{3}\b"), 0),
        (re.compile(r"\b[A-Z]{2}[ -]?\d{1,2}[ -]?[A-Z]{1,3}[ -]?\d{4}\b"), 0),
        (re.compile(r"\b[A-Z]{2}[ -]\d{3}[ -][A-Z]{2}\b"), 0),
        (re.compile(r"\b[A-Z]{3}-\d{3,4}\b"), 0),  # "MGT-4471": US and Canadian plates
        (re.compile(r"(?<![\w-])(?:\d{1,3}-[A-Z]{2,3}-\d{1,3}|[A-Z]{1,3}-\d{2,3}-[A-Z]{1,3})(?![\w-])"), 0),  # Dutch plates
        # Canadian SIN and other 3-3-3 numbers, with a letter prefix when there is one ("XGH 448 192 007");
        # after an international prefix ("+61 412 555 093") the digits are the phone's
        (re.compile(r"(?:\b[A-Z]{2,4} )?(?<![\w+-])(?<!\+\d )(?<!\+\d\d )(?<!\+\d\d\d )\d{3} \d{3} \d{3}(?![\w-]| \d)"), 0),
        (re.compile(r"(?<![\w.-])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w-])"), 0),  # Brazilian CPF
        # segmented codes mixing letters and digits: serials, Medicare MBIs, product keys
        (re.compile(r"\b(?=[A-Z0-9-]*[A-Z])(?=[A-Z0-9-]*\d)[A-Z0-9]{3,6}(?:-[A-Z0-9]{2,6}){2,}\b"), 0),
        (re.compile(r"\b[A-Z]{2,5}-(?:\d{2,4}-\d{3,}|\d{5,}|\d{3,}/\d{2,4})\b"), 0),
        # one unbroken code of capitals and digits: member IDs ("XKP884120937"), plates ("7TRB093");
        # prose has none of six or more characters with two letters and two digits
        (re.compile(r"\b(?=[A-Z0-9]*\d[A-Z0-9]*\d)(?=(?:[A-Z0-9]*[A-Z]){2})[A-Z0-9]{6,20}\b"), 0),
        # the cue a few words before the number: "my MRN at the psych unit was 00482913",
        # "a report number, 23-118406", "the member ID, it's ..."
        (re.compile(rf"{_NOT_STATE_ZIP}(?i:\b{_ID_CUE}\b\.?{_NUMBER_WORDS}(?:\s+(?!is\b|was\b)[a-z]+){{0,5}}\s*"
                    r"(?:,\s*(?:it'?s|it’s|which is|that'?s)?|\s+(?:is|was|reads|says)|:)\s*)"
                    rf"({_ID_PREFIX}(?=[\w -]*\d{{4}})[A-Za-z0-9][A-Za-z0-9-]{{2,}}[A-Za-z0-9](?:\s\d{{2,}}){{0,3}})\b"), 1),
        (re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"), 0),  # UK National Insurance
        (re.compile(r"\b[A-ZÄÖÜ]{1,3}-[A-Z]{1,2}\s\d{1,4}[EH]?\b"), 0),  # German plates ("B-KM 4471")
        (re.compile(r"\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b"), 0),  # VIN
        (re.compile(rf"(?i:\b{_DEVICE_CUE}\b\.?{_NUMBER_WORDS}{_OF_WHAT}{_IS})"
                    r"((?:[A-Z]{1,5}[ -](?=\d))?(?=[\w:-]*\d)[A-Za-z0-9][A-Za-z0-9:-]{5,})"), 1),
        (re.compile(r"(?<![\w:-])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![\w:-])"), 0),  # MAC address
        (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), 0),  # UUID
        (re.compile(r"(?<![\w-])\d{15}(?![\w-])"), 0),  # IMEI-length
        # national IDs and account numbers written as one run: Aadhaar (12), South African ID (13), cards
        (re.compile(r"(?<![\w.,-])(?:\d{12,14}|\d{16,19})(?![\w-]|[.,]\d)"), 0),
        (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b"), 0),  # IBAN
        (re.compile(r"(?<![\w-])\d{9}(?![\w-])"), 0),  # SSN without dashes, or another 9-digit number
    ],
    "phone": [
        (re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w-])"
                    r"(?:\s*(?:ext\.?|extension|x)\s*\d{1,5})?", re.I), 0),
        (re.compile(r"(?<![\w-])(?:1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"
                    r"(?:,?\s*(?:ext\.?|extension|x)\s*\d{1,5})?", re.I), 0),
        (re.compile(r"(?<![\w-])0\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\w-])"), 0),
        (re.compile(r"(?<![\w-])0\d[\s-]\d{4}[\s-]\d{4}(?![\w-])"), 0),  # Australian landline "02 5550 1234"
        (re.compile(r"(?<![\w-])\d{3}-\d{4}(?![\w-])(?:,?\s*(?:ext\.?|extension|x)\s*\d{1,5})?", re.I), 0),
        # digits in pairs or threes after a leading group: "0412-55-50-19", "06 12 34 56 78"
        (re.compile(r"(?<![\w-])0\d{1,3}(?:([-. ])\d{2,3})(?:\1\d{2,3}){2,3}(?![\w-])"), 0),
        (re.compile(r"(?<![\w-])\d{10,11}(?![\w-])"), 0),
        (SPELLED_PHONE, 0),
    ],
    "address": [
        (re.compile(rf"\b\d{{1,6}}[A-Za-z]?\s+(?:[A-Z0-9][\w'-]*\.?\s+){{0,4}}{_STREET}{_UNIT}{_CITY_STATE_ZIP}"), 0),
        (re.compile(rf"(?i:\b(?:flat|apartment|apt|unit|suite)\.?\s*#?\d+[a-z]?\b,?\s*)(?:\d{{1,6}}[A-Za-z]?\s+"
                    rf"(?:(?:[A-Z0-9][\w'-]*\s+){{0,4}}{_STREET}|{_CAP}(?:\s+{_CAP}){{0,2}}){_CITY_STATE_ZIP})?"), 0),
        (re.compile(rf"(?i:\b{_FOREIGN_STREET_FIRST})\s+(?:(?:de|del|la|le|les|des|du|da|do|di|dos|das)\s+)*"
                    rf"{_CAP}(?:\s+{_CAP}){{0,2}}(?:,?\s+\d{{1,5}}[a-z]?)?(?:,\s*\d{{4,5}}(?:-\d{{3}})?)?(?:,?\s+{_CAP}(?:\s{_CAP})?)?"), 0),
        (re.compile(rf"\b\d{{1,5}}[a-z]?,?\s+(?i:{_FOREIGN_STREET_FIRST})\s+(?:(?:de|del|la|le|les|des|du|da|do|di)\s+)*"
                    rf"{_CAP}(?:\s+{_CAP}){{0,2}}(?:,\s*\d{{4,5}}\s+{_CAP})?"), 0),
        (re.compile(rf"(?:\b\d{{1,5}}[a-z]?\s+)?\b{_FOREIGN_STREET_SUFFIX}(?:\s+\d{{1,5}}[a-z]?)?(?:,\s*\d{{4,5}}\s+{_CAP})?"), 0),
        (re.compile(rf"(?i:\bP\.?\s?O\.?\s+Box)\s+\d+(?:-\d{{5}})?(?:,\s*{_CAP}(?:\s+{_CAP})?(?=\s*\.|\s*,(?!\s*[A-Z]{{2}}\b)|\s*$))?"), 0),
        (re.compile(r"\b(?:RR|R\.R\.|Rural Route)\s?\d+(?:,?\s+(?:Box|Site)\s+\d+)?"), 0),
        (re.compile(rf"(?:\b[A-Z][a-z]+,?\s+)?\b(?:ON|QC|BC|AB|MB|SK|NS|NB|NL|PE|YT|NT|NU)\s+{_CA_POSTCODE}"), 0),
        (re.compile(r"(?<![\w-])[A-Z]\d[A-Z]\s\d[A-Z]\d(?![\w-])"), 0),
        (re.compile(r"(?i:\b(?:live|lives|living|moved|grew up|house|flat|home|place|office|shop)\s+(?:on|at|off)\s+)((?:[A-Z][a-z]+\s+){1,3}"
                    r"(?:Street|Avenue|Road|Lane|Drive|Boulevard|Court|Terrace))\b"), 1),
        (re.compile(r"(?i:\b(?:zip|zip\s*code|postal\s*code|post\s*code|postcode)\b(?:\s+(?:is|was))?\s*[:,]?\s*)"
                    rf"(\d{{5}}(?:-\d{{4}})?|{_UK_POSTCODE}|{_CA_POSTCODE})"), 1),
        (re.compile(r"(?:\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,\s+)?(?<![\w-])[A-Z]{2}\s+\d{5}(?:-\d{4})?(?![\w-])"), 0),  # (city,) state ZIP
        (re.compile(rf"(?<![\w-]){_UK_POSTCODE}"), 0),
        (re.compile(rf"(?<![\w-]){_EIRCODE}"), 0),
        (re.compile(r"\bDublin\s\d{1,2}W?\b"), 0),  # Dublin postal districts
        (re.compile(r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)?\s(?:County|Parish|Borough)\b"), 0),
        # where someone lives: "we moved to Leeds", "my brother still lives in Surulere", "my roommate in Koramangala"
        (re.compile(r"(?i:\b(?:(?:i|we|they|he|she)\s+(?:live|lived|living|moved|grew up|stay|am staying|was raised)"
                    r"(?:\s+(?:here|there|back|home|alone|together))?\s+(?:in|to)"
                    r"|(?:(?:has|had|have|already)\s+)?moved\s+(?:back|home)\s+to"
                    r"|(?:still\s+)?(?:lives|lived|living|roommates?|flatmates?|housemates?|neighbou?rs?)"
                    r"(?:\s+(?:alone|together|nearby|now|still|on her own|on his own|by (?:her|him)self))?\s+in"
                    r"|(?:born|raised|brought up)(?:\s+(?:me|us|him|her|them))?(?:\s+\S+){0,2}?\s+in)\s+)"
                    r"([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b(?!\s+(?:County|Parish|Borough))"), 1),
        (re.compile(r"\b(?:NSW|VIC|QLD|SA|WA|TAS|ACT|NT)\s+\d{4}\b"), 0),
        # a ZIP where a place would stand: "we moved to 98107", "I live in 60614"
        (re.compile(r"(?i:\b(?:moved|move|moving|live|lives|living|lived|grew up|relocated|stay|staying)\s+(?:to|in|near)\s+)"
                    r"(\d{5})(?![\w-])"), 1),
        # Indian house and road numbers: "H.No. 8-2-293, Road No. 14, Banjara Hills"
        (re.compile(rf"(?i:\bh\.?\s?no\.?|\bhouse\s+no\.?|\bflat\s+no\.?|\bplot\s+no\.?)\s*[\d/-]+[A-Za-z]?"
                    rf"(?:,\s*(?i:(?:road|street|lane|sector|block|cross|main)\s+no\.?)\s*\d+)?(?:,\s*{_CAP}(?:\s+{_CAP}){{0,2}}){{0,3}}"
                    r"(?:\s*-?\s*\d{6}\b)?"), 0),
        (re.compile(rf"\b(?:(?i:road|block|cross)\s+no\.?\s*\d+|(?:{_CAP}\s+)?(?:Sector|Phase|Block)\s+\d+[A-Z]?)"
                    rf"(?:,\s*{_CAP}(?:\s+{_CAP}){{0,2}})?(?:\s+\d{{6}})?"), 0),
        (re.compile(rf"\bNo\.\s*\d+[A-Z]?,\s*\d+(?:st|nd|rd|th)\s+(?i:cross|main|block|stage|phase|floor)"
                    rf"(?:,\s*{_CAP}(?:\s+{_CAP})?){{0,3}}(?:\s+\d{{6}})?"), 0),
        (re.compile(rf"(?<![\w-])\d{{1,2}}-\d{{1,2}}-\d{{1,3}}\s+{_CAP}(?:-\w+)?"
                    rf"(?:,\s*{_CAP}-(?:ku|shi|cho|machi|gun|ken))?"), 0),
        (re.compile(rf"(?i:\bul\.|\bal\.|\bos\.)\s+{_CAP}(?:\s+{_CAP}){{0,2}}\s+\d{{1,5}}(?:/\d{{1,4}})?[a-z]?"
                    rf"(?:,\s*\d{{2}}-\d{{3}}\s+{_CAP})?"), 0),
        (re.compile(rf"(?<![\w-])\d{{2}}-\d{{3}}\s+{_CAP}"), 0),
        (re.compile(rf"(?<![\w-])\d{{4}}-\d{{3}}\s+{_CAP}"), 0),  # Portuguese postcode and town ("4050-262 Porto")
        (re.compile(r"(?:-\s*[A-Z]{2},?\s*)?(?<![\w-])\d{5}-\d{3}(?![\w-])"), 0),  # Brazilian CEP, after its state
        # Colombian addresses: "Calle 45 #12-30, Chapinero", "Carrera 7 No. 32-16"
        (re.compile(rf"\b(?:Calle|Carrera|Cra\.?|Cl\.?|Kr\.?|Transversal|Diagonal|Avenida|Av\.?)\s+\d+[A-Z]?(?:\s*Bis)?\s*"
                    rf"(?:#|(?i:no)\.?)\s*\d+[A-Z]?-\d+(?:,\s*{_CAP}(?:\s+{_CAP})?)?"), 0),
        # Philippine addresses: "Purok 5, Brgy. San Isidro, Tanauan City, Batangas"
        (re.compile(rf"\b(?:(?:Purok|Sitio)\s+\d+[A-Z]?(?:,\s*(?:Brgy\.?|Barangay)\s+{_CAP}(?:\s+{_CAP}){{0,2}})?"
                    rf"|(?:Brgy\.?|Barangay)\s+{_CAP}(?:\s+{_CAP}){{0,2}})(?:,\s*{_CAP}(?:\s+{_CAP}){{0,2}}){{0,2}}"), 0),
        (re.compile(r"(?<=\d),\s*\d{1,2}\s?[ºª°]\s*(?:izquierda|izda|izq|derecha|dcha|dch|centro|[A-D])?\b"), 0),
        (re.compile(r"(?i:\b(?:i'?m|i’m|i am|we'?re|we’re|we are)\s+(?:now\s+|still\s+|back\s+)?"
                    r"(?:in|based in|living in|staying in|over in|out in|up in|down in)\s+)"
                    r"([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b"
                    r"(?!\s+(?:County|Parish|Borough))"), 1),
        # where the writer is from, after their name too ("im [NAME] from Soshanguve, ..."): any size of place
        (re.compile(r"(?i:\b(?:i'?m|i am|we'?re|we are)(?:\s+(?:\[NAME\]|(?-i:[A-Z][a-z]+)))?\s+from\s+)([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b"
                    r"(?=\s+originally|\s*[,.;!]|\s*$)"), 1),
        # "a tiny village called Ballycastle": a place word names the place after it, known word or not
        (re.compile(r"(?i:\b(?:village|town|suburb|hamlet|township|estate|neighbou?rhood|island)\s+(?:called|named)\s+)"
                    r"([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b"), 1),
    ],
}
