"""Planted-identifier test lines for the PII scrubber, written for this project (no real person).

Each identifier is marked ``[[kind|value]]``; ``planted()`` gives the clean text and the
spans. ``DEV`` is what the patterns were developed against; ``HELDOUT`` was written first,
separately, with other identifiers and phrasing, and only measures (scripts/pii_eval.py).
Kinds here are Safe Harbor families; ``SCRUBBER_KIND`` maps each to the scrubber kind whose
placeholder replaces it.
"""

from __future__ import annotations

import re

SCRUBBER_KIND = {"name": "name", "email": "email", "phone": "phone", "url": "url", "handle": "url",
                 "date": "date_of_birth", "id": "id_number", "vehicle": "id_number", "device": "id_number",
                 "address": "address"}
MARK = re.compile(r"\[\[(\w+)\|(.+?)\]\]")

DEV = [
    "my name is [[name|rohan]] and I've had a rough week",
    "I'm [[name|Mary-Kate]], nice to meet you",
    'you can email [[email|kat.w at yahoo dot com]] anytime',
    'contact: [[email|sam_b[at]proton[dot]me]]',
    'please call [[phone|415-555-0132 x305]] during the day',
    'the hotline is [[phone|1 (888) 555-0110]]',
    'my fax is [[phone|212.555.0166]]',
    'I was hospitalized on [[date|August 2, 2022]]',
    'they discharged me [[date|2022-08-09]]',
    'the surgery was on [[date|12th March]]',
    'my SSN is [[id|219 09 9999]]',
    'social security number [[id|219099999]]',
    'medical record number [[id|MR-7781204]]',
    'the incident report number is [[id|IR-55120]]',
    'case no. [[id|2021-CR-00917]]',
    'insurance policy [[id|AX-554-2210]]',
    'plate number [[vehicle|ABC-1234]]',
    'license plate [[vehicle|8XYZ221]]',
    'vin [[vehicle|2FTRX18W1XCA01234]]',
    'IMEI [[device|490154203237518]]',
    'serial no. [[device|C02XK0ABJGH5]]',
    'device id [[device|f47ac10b-58cc-4372-a567-0e02b2c3d479]]',
    'my ip address is [[url|203.0.113.77]]',
    'I post as [[handle|@quietstorm_88]] on twitter',
    'my discord is [[handle|nightowl#0921]]',
    'add me on snap, [[handle|benji.k22]]',
    'I live at [[address|5 Hauptstraße, 10115 Berlin]]',
    'my address is [[address|Av. Paulista 1578, São Paulo]]',
    'zip [[address|94110-1234]]',
    'UK postcode [[address|EH1 2NG]]',
    'we live in [[address|Marin County]]',
    "I'm from [[address|Oak Park]] originally",
    'my friend [[name|Zainab]] texts me',
    'my grandma [[name|Wiremu]] raised me',
    '[[name|kenji]] and [[name|lucía]] came to my party',
    'my sister-in-law [[name|Ngozi Okonkwo]]',
]

HELDOUT = [
    "hey, it's [[name|jess]] again, you can reach me at [[email|jess dot m at outlook dot com]]",
    'my case worker [[name|Olumide Adeyemi]] said to call her on [[phone|(312) 555-0147 ext. 22]]',
    'I was admitted on [[date|March 14, 2023]] and discharged [[date|03/21/2023]]',
    'my son [[name|mateo]] got his cast off on [[date|the 2nd of June]]',
    'the police report number is [[id|2023-0048817]] if you need it',
    "my insta is [[handle|@sadgirl_jen94]] but don't tell anyone",
    'my IP is [[url|192.168.41.207]] and the school blocked it',
    'you can find my blog at [[url|notesfrom-room9.blogspot.com]]',
    'his truck, plate [[vehicle|7KDR394]], was parked outside again',
    'the VIN on my car is [[vehicle|1HGCM82633A004352]]',
    "my phone's IMEI is [[device|356938035643809]], the insurer asked for it",
    'the serial number of my hearing aid is [[device|SN-4F8K2J9Q]]',
    "I'm [[name|Anne-Marie]] and I moved here from Quebec",
    'my daughter [[name|Siobhan]] and my husband [[name|Tadeusz]] came with me',
    'my SSN is [[id|078051120]], is it safe to put that here?',
    'I live at [[address|14 rue des Lilas, 75019 Paris]]',
    'we moved to [[address|Calle de Alcalá 45, Madrid]] last year',
    'my old place was [[address|Flat 3, 22 Baker Street, London NW1 6XE]]',
    'my zip code is [[address|60614]]',
    'my mrn is [[id|00482913]] at the clinic',
    'health plan member number [[id|HPX-992-110-45]]',
    'my account number is [[id|0049 2213 8765]] at the credit union',
    "my driver's licence number is [[id|D1234-56789-01234]]",
    'policy number [[id|POL7765432]] covers the therapy',
    'the court case number is [[id|CV-2022-118834]]',
    'call the toll-free line [[phone|1-800-555-0199]] and ask for [[name|Priyanka]]',
    'fax my records to [[phone|+1 617 555 0188]]',
    'my cousin [[name|José Luis]] lives in [[address|Hialeah, FL 33012]]',
    'I talk to [[name|kwabena]] every night on discord, his handle is [[handle|kwab#4471]]',
    'email me at [[email|marco.r(at)gmail(dot)com]]',
    'my neighbour [[name|Ingrid Olsen]] helps with the kids',
    'my therapist before you was [[name|dr. hallworth]]',
    'follow me on tiktok [[handle|@brokenwings.mk]]',
    "my birthday is [[date|7/22]] and it's always hard",
    'I got out of the hospital on [[date|Jan 9]]',
    "my mom's number is [[phone|0161 555 0123]]",
    "I'm staying at [[address|88 Dunmore Road, Glasgow G12 8QQ]] for now",
    'text [[name|lena]] at [[phone|555-201-3344]]',
    'my snapchat is [[handle|lil_tam_tam]]',
    'the mac address [[device|00:1A:2B:3C:4D:5E]] is the one tracking me',
    'my student ID is [[id|S20231145]]',
    'my ex, [[name|Dmitri Volkov]], keeps emailing [[email|dv1987@yandex.ru]]',
    'we used to live in [[address|Clark County]] before the divorce',
    'my partner [[name|aoife]] works nights',
    'reach my lawyer at [[email|m.chen [at] chenlaw [dot] com]]',
    'I was arrested on [[date|November 3rd, 2021]]',
    'my sister [[name|Mei-Ling]] drove me home',
    'my plate is [[vehicle|KX19 PLM]] if security asks',
    'my appointment at the pain clinic is on [[date|4/18/2024]]',
    'the device ID on my tracker is [[device|A8F3-22C1-9B7E-4410]]',
    'my friend [[name|Nnamdi]] came over',
    'visit [[url|https://www.gofundme.com/f/help-for-tasha]] to donate',
    'my psychiatrist [[name|Dr Rahimi]] changed my meds',
    'I grew up at [[address|Via Roma 12, 20121 Milano]]',
    "I'm in [[address|apartment 4C]] at [[address|310 Kingsway]]",
    "my brother [[name|Bartholomew]] won't talk to me",
    'my toronto postal code is [[address|M5V 2T6]]',
    "ping me on [[url|10.0.0.45]] server, it's my home machine",
    'my username on reddit is [[handle|u/throwaway_lost_22]]',
]


def planted(line: str) -> tuple[str, list[tuple[str, str]]]:
    """(clean text, [(kind, value), ...]) of one marked line."""
    return MARK.sub(lambda m: m.group(2), line), [(m.group(1), m.group(2)) for m in MARK.finditer(line)]
