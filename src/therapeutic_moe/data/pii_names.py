"""Word lists behind the name heuristic in ``pii.py``.

Written for this project from general knowledge of common given names across many
cultures; not taken from any dataset. Names that are also everyday words ("Will", "Hope",
"May") sit in ``AMBIGUOUS_NAMES`` and count only after a cue such as "my name is".
"""

from __future__ import annotations

_FIRST_NAMES = """
aaliyah aaron abby abdul abdullah abigail abraham ada adam addison adele adrian adriana ahmed ahmad
aiden aisha akira alan alana albert alberto alejandra alejandro alex alexa alexander alexandra alexis
alfred ali alice alicia alison allison alma alyssa amanda amani amara amelia amina amir amit amy ana
anan andre andrea andreas andres andrew andy angela angelica angelina anika anil anita ann anna anne
annie anthony antonio anya arjun arnav arthur aryan asha ashley ashok aubrey audrey austin ava avery
ayesha barbara beatrice becky ben benjamin bernard beth bethany betty beverly bianca blake bobby bonnie
brad bradley brandon brenda brendan brian brianna bridget brittany bruce bryan caitlin caleb cameron
camila carla carlos carmen caroline carolyn carrie casey cassandra catherine cecilia cedric chandra
charles charlie charlotte chelsea cheryl chen chidi chioma chloe chris christina christine christopher
cindy claire clara claudia colin connor corey courtney craig cristina cynthia daisuke dakota dale damian
damon dan dana daniel daniela danielle danny darius darnell darren dave david debbie deborah deepa
deepak denise dennis derek desmond devon diana diane diego dimitri dmitri dominic donald donna dorothy
douglas dylan edgar eduardo edward eileen elaine elena eli elias elijah elizabeth ella ellen ellie
emeka emily emma emmanuel enrique eric erica erik erin esther ethan eugene evan evelyn fabian farah
fatima felix fernando fiona francesca francis francisco fred gabriel gabriela gabrielle gary gavin
george georgia gerald gloria gordon graham gregory gustavo haley hamza hana hannah haruki harold harry
hassan hector helen henry hiroshi hui hussein ian ibrahim imani imran ingrid irene isaac isabel isabella
isaiah ivan jacob jacqueline jaime jake jamal james jamie jane janet janice jared jasmine jason javier
jeff jeffrey jenna jennifer jenny jeremy jerome jesse jessica jesus jill jim jimmy joan joanna joe joel
john johnny jonathan jorge jose joseph joshua joyce juan judith judy julia julian juliana julie julio
justin kai kaitlyn kamala karen karim kate katherine kathleen kathryn kathy katie kayla keisha keith
kelly kemal kenji kenneth kevin khalid kim kimberly kofi kristen kumar kwame kyle lakshmi lamar lara
larry latoya laura lauren leah leila lena leo leon leonardo leslie liam linda lindsay lisa logan lorenzo
lori louis louise lucas lucia lucy luis luke lydia madison maggie mai malik mandy manuel marcus margaret
maria mariam marie marisol marissa marta martha martin marvin mary matthew maya megan mei melanie
melissa mia michael michelle miguel mike mila mohammed mohammad molly monica monique muhammad nadia
naomi natalia natalie nathan neha nicholas nicole nikhil nina noah noor nora nuno olga oliver olivia
omar oscar owen pablo pamela paola patricia patrick paul paula pedro peter philip phillip pooja
priya priyanka rachel rafael rahul raj rajesh ramon randy raquel rashid raul rebecca regina renee
ricardo richard riley rita robert roberta roberto robin rodrigo roger ronald rosa rosalind ruth ryan
sabrina sadia salma sam samantha samir samuel sandra sanjay santiago sara sarah sasha scott sean sebastian
selena sergio seth shannon sharon shawn sheila shirley shreya simon simone sofia sonia sophia sophie
stacy stanley stephanie stephen steve steven sunil susan suzanne sylvia tamara tanya tara tariq taylor
teresa terrence theresa thomas tiffany timothy tina todd tom tommy tony tracy travis trevor tyler
valentina valerie vanessa vera veronica vicky victor victoria vijay vikram vincent virginia vivian
walter wanda wayne wei wendy william xavier yasmin yolanda yusuf yuki zach zachary zainab zara zoe
"""

# Given names that are also ordinary words, months or virtues: scrubbed only after a cue.
_AMBIGUOUS = """
will hope grace faith joy may april june august rose lily iris daisy ivy holly dawn eve summer autumn
winter sky amber ruby pearl jade crystal star sunny honey ginger olive violet heather mark bill art sue
pat frank rich don bob jack ray rob chase hunter mason drew grant lance miles wade gene harmony destiny
justice patience trinity charity carol chance guy rusty dean earl reed brook river rain sage angel
precious bliss kit norm sandy misty penny buddy max nick ken kay jay lee al ed christian
"""

# Capitalised words that the cue patterns must never take for a name.
_NOT_NAMES = """
i i'm god mom mum mommy mummy dad daddy sir madam ma'am doctor doc everyone everybody guys honey dear
man buddy friend christmas easter thanksgiving monday tuesday wednesday thursday friday saturday sunday
january february march july september october november december ok okay yes no thanks today tomorrow
yesterday english spanish french german chinese american british canadian mexican indian african
catholic christian muslim jewish hindu buddhist black white asian latino latina latinx gay lesbian
bi trans queer therapist counselor counsellor client patient user assistant google facebook instagram
twitter tiktok reddit youtube zoom aa na adhd ocd ptsd cbt dbt covid mr mrs ms dr the a an and or but so
my his her our their your we you he she they it this that what why how when where who just well oh
also then there here not nothing something anything someone anyone nobody baby love sweetheart bro sis
yeah yep yup sure right alright um uh hmm wow great good fine please sorry after before because since if as
at in on for with to from now still even maybe again only every all some any one two three
"""

FIRST_NAMES = frozenset(_FIRST_NAMES.split())
AMBIGUOUS_NAMES = frozenset(_AMBIGUOUS.split())
NOT_NAMES = frozenset(_NOT_NAMES.split())
