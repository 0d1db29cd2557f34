"""Places above the level Safe Harbor removes: US states and countries stay in the text
("I moved to Ohio", "I'm from Brazil originally"), everything smaller is an address; and words
that follow "I'm in" without being places ("I'm in Recovery") stay too."""

from __future__ import annotations

_STATES = """
alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware|florida|georgia|hawaii|idaho
|illinois|indiana|iowa|kansas|kentucky|louisiana|maine|maryland|massachusetts|michigan|minnesota
|mississippi|missouri|montana|nebraska|nevada|new hampshire|new jersey|new mexico|new york|north carolina
|north dakota|ohio|oklahoma|oregon|pennsylvania|rhode island|south carolina|south dakota|tennessee|texas
|utah|vermont|virginia|washington|west virginia|wisconsin|wyoming|puerto rico
|ontario|quebec|alberta|manitoba|saskatchewan|nova scotia|british columbia|england|scotland|wales
|northern ireland
"""
_COUNTRIES = """
america|the us|the usa|the states|canada|mexico|brazil|argentina|chile|colombia|peru|venezuela|cuba
|jamaica|haiti|ireland|britain|the uk|france|germany|spain|portugal|italy|greece|poland|ukraine|russia
|sweden|norway|denmark|finland|netherlands|belgium|switzerland|austria|turkey|israel|iran|iraq|syria
|lebanon|egypt|morocco|nigeria|ghana|kenya|ethiopia|somalia|south africa|india|pakistan|bangladesh
|nepal|china|japan|korea|vietnam|thailand|philippines|indonesia|malaysia|australia|new zealand|europe
|asia|africa|the city|town|the country|the suburbs|here|there|college|school|work|rehab|treatment
"""
# Capitalised words after "I'm in" that are states of life, not places ("I'm in Recovery").
_NOT_PLACES = """
recovery|therapy|love|pain|trouble|charge|control|denial|shock|debt|hospital|jail|prison|church|class
|bed|middle school|high school|grad school|law school|med school|the hospital|a relationship|limbo|crisis
|counseling|counselling|remission|hell|heaven|tears
"""

_ALL = _STATES + "|" + _COUNTRIES + "|" + _NOT_PLACES
NOT_SUB_STATE = frozenset(p.strip() for p in _ALL.replace("\n", "").split("|") if p.strip())
