"""Word lists behind the name heuristic in ``pii.py``.

Written for this project from general knowledge of common given names across many
cultures; not taken from any dataset. Names that are also everyday words ("Will", "Hope",
"May") sit in ``AMBIGUOUS_NAMES`` and count only after a cue such as "my name is".
"""

from __future__ import annotations

from therapeutic_moe.data.medications import DRUG_NAMES

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

# More given names by region (common names, written from general knowledge): Irish and Scottish,
# Nordic, Slavic, Southern European and Latin American, West/East African, Arabic and Persian,
# South Asian, East Asian, Maori and Pacific.
_MORE_NAMES = """
aoife saoirse siobhan niamh ciara caoimhe sinead orla roisin aisling grainne eoin cian oisin padraig seamus
declan ronan fionn cormac tadhg ailsa isla morag hamish angus euan fraser lachlan mhairi
astrid sigrid freya solveig liv ingeborg birgit annika linnea maja elin henrik lars nils anders bjorn
magnus sven erik leif torsten jens mads soren kasper rasmus
tadeusz krzysztof wojciech grzegorz piotr pawel tomasz marek jakub kasia katarzyna agnieszka malgorzata
zofia jadwiga dorota ewa bogdan vladimir sergei sergey alexei aleksandr nikolai yuri oleg igor boris
svetlana tatiana natasha yelena irina ludmila oksana anastasia ekaterina galina milena dragan goran
zoran milan jelena ivana petra tereza lucie jana radek ondrej
mateo matteo giovanni giuseppe francesco luca marco alessandro lorenzo andrea chiara giulia francesca
alessia federica beatriz ines joao tiago goncalo rui afonso leonor catarina mariana luisa jose luis
javier alvaro ignacio joaquin agustin valentin thiago benjamin martina camila valeria ximena guadalupe
lupita consuelo rocio pilar inmaculada mercedes dolores esperanza milagros yesenia maricela itzel
olumide adebayo adewale ayodele babajide chukwuemeka chinedu chidinma ngozi nnamdi obinna ifeoma
oluwaseun tunde funmilayo yetunde folake kehinde taiwo temitope uchenna amaka nkechi kwabena kwaku
kwesi yaw kojo akosua abena ama efua adwoa esi kofi kwame abdi amara ayana aminata fatou moussa
ousmane mamadou ibrahima aissatou mariama thandiwe thabo sipho zanele nomvula lerato tendai tatenda
wanjiru wambui njeri kamau otieno achieng akinyi baraka zawadi
youssef yusuf mustafa mahmoud khaled karim tarek walid rania layla leyla nour yara dina hala samira
salma hiba reem dalia rana mona shirin parisa farzaneh mehdi reza dariush arash babak navid omid
soraya azadeh golnar
aarav vihaan aditya ananya diya ishaan kabir rohan rohit arjun karan siddharth varun vivek akash
amitabh harpreet gurpreet jaspreet manpreet simran navneet parminder baljit kiran sunita meena geeta
savita anjali kavya lakshmi divya swati shweta pallavi nandini rekha aishwarya tanvi
xiaoming xiaoli jing ying lan fang hong jun hao yong jie lei ming qiang tao wen xin
yan yu zhang haruto yuto sota riku hina yui aoi sakura haruka yuna rina takeshi kenta
daiki shota yuki ji-woo jiwoo min-jun minjun seo-yeon seoyeon ji-hoon jihoon hye-jin hyejin eun-ji
sung thanh linh trang huong duc minh quang
wiremu aroha mere hemi tane anahera rangi manaia sione losa mele tevita tomas tomasz
yifan zihan yuxuan haoran junjie xinyi yuting jiayi zhiwei jianguo guang chao peng hua qing xia
jiahui zixuan ruoxi meiling xiuying guiying lihua jianhua
seo-jun seojun ha-eun haeun ji-min jimin jisoo soo-jin sujin min-seo minseo hyun dong-hyun donghyun
sang-woo sangwoo young-ho youngho yeon-woo eun-woo hyun-woo jae-won sun-hee mi-young
anh bao hoa khanh ngoc phuong thao tuan tuyet thuy hanh hieu nhung vy
jess jessie becca bex liz lizzy beth meg maddie kenny stevie bri nate gabe zeke
benji cody kyle brody cooper archie alfie ollie freddie harvey reggie teddie
"""

# Given names that are also ordinary words, months or virtues: scrubbed only after a cue.
_AMBIGUOUS = """
will hope grace faith joy may april june august rose lily iris daisy ivy holly dawn eve summer autumn
winter sky amber ruby pearl jade crystal star sunny honey ginger olive violet heather mark bill art sue
pat frank rich don bob jack ray rob chase hunter mason drew grant lance miles wade gene harmony destiny
justice patience trinity charity carol chance guy rusty dean earl reed brook river rain sage angel
precious bliss mercy kit norm sandy misty penny buddy max nick ken kay jay lee al ed christian
long son hung bo na ping gang dung hai nam thu
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

FIRST_NAMES = frozenset(_FIRST_NAMES.split() + _MORE_NAMES.split())
AMBIGUOUS_NAMES = frozenset(_AMBIGUOUS.split())
NOT_NAMES = frozenset(_NOT_NAMES.split())

# Lowercase words that are given names in the list above but far more often ordinary words:
# scrubbed in lowercase only after a cue ("my sister jade").
LOWERCASE_WORDS = frozenset("""
jasmine dale lan fang hong jun lei ming tao wen xin yan yu sung mere liv jing ying jie hao ama esi
ewa rui mona dina lara
""".split())

# Common words that a cue such as "my son" or "text" may be followed by: never a name.
COMMON_WORDS = frozenset("""
is was has had have and or but who that which when where what how why if as at in on for with to from of
by about like just really also still always never ever now then again already even only too very so
said says told tells called calls came comes went goes got gets keeps kept left leaves lives lived
thinks thought wants wanted needs needed likes loves loved hates hated knows knew does did doesnt didnt
dont can cant could couldnt will wont would wouldnt should shouldnt might must may being been be are
were am not no yes ok okay sure well oh yeah um uh mm hmm like kind sort whole own best new old
little big young older younger ex late dear poor only first last other another same whole
works worked working helps helped drove drives passed died dies moved moves tried tries texted
texts says asked asks picked found finds made makes took takes gave gives brought sent sends saw sees
back home there here away out up down over off into onto the a an this those these my his her
their our your me him them us it its something someone somebody anything anyone nothing nobody
everyone everything all both each every some any many much more most less few lot lots
because since until while after before though although unless whether
and stuff too
""".split())

# Common Chinese, Korean and Vietnamese family names, which come before the given name
# ("Zhang Jing", "Park Ji-min", "Tran Minh"): taken with a given name that follows. Family names
# that are also English words ("he", "do", "ma", "sun", "long", "so") are left out.
SURNAMES_FIRST = frozenset("""
li wang zhang liu chen yang huang zhao wu zhou xu zhu hu guo lin luo gao zheng liang xie tang
han cao deng feng xiao cheng cai peng pan yuan dong jiang wei lu ye zeng kim park choi jung kang cho
yoon jang lim shin yoo kwon hwang ahn nguyen tran pham hoang phan vu dang bui ngo duong trinh
""".split())

# Public figures and characters a client may name in passing; not patient identifiers.
PUBLIC_FIGURES = frozenset("""
taylor swift|michael jordan|barack obama|michelle obama|donald trump|joe biden|kamala harris|oprah winfrey
|elon musk|bill gates|steve jobs|mark zuckerberg|kim kardashian|kanye west|lady gaga|billie eilish
|ariana grande|justin bieber|beyonce knowles|rihanna|adele|ed sheeran|harry styles|lebron james
|serena williams|simone biles|tom hanks|robin williams|brene brown|carl jung|sigmund freud|viktor frankl
|sylvia plath|virginia woolf|ernest hemingway|stephen king|jordan peterson|gabor mate|tony robbins
|martin luther king|nelson mandela|princess diana|prince harry|king charles|queen elizabeth
|harry potter|jon snow|walter white|winnie the pooh|mickey mouse|selena gomez|demi lovato|kurt cobain
|marilyn monroe|albert einstein|abraham lincoln|john lennon|paul mccartney|bob marley|jesus christ
|marcus aurelius|carl rogers|aaron beck|albert ellis|thich nhat hanh|eckhart tolle|mel robbins|jay shetty
|matthew perry|amy winehouse|chester bennington|naomi osaka|michael phelps|meghan markle|prince william
|james clear|mark manson|michael scott|ted lasso|jim halpert|pam beesly|matt haig|johann hari|adam grant|susan david|bessel van der kolk|dr phil|phil mcgraw
""".replace("\n", "").split("|"))

# Capitalised words that the English dictionary lacks but that name no person: medications (the
# shared list and more), brands, apps and shops, chat slang and abbreviations (written from general
# knowledge; the dictionary rule in pii.py skips them).
NOT_PERSON_TERMS = frozenset(DRUG_NAMES) | frozenset("""
welbutrin remeron desyrel
risperidone risperdal olanzapine zyprexa latuda lurasidone clozapine
clozaril haloperidol haldol concerta strattera focalin
dexedrine modafinil provigil lunesta neurontin
pregabalin lyrica vistaril atarax vivitrol
subutex buprenorphine narcan naloxone chantix champix varenicline nicorette nicoderm
percocet vicodin oxycontin oxycodone oxy hydrocodone tramadol ultram dilaudid fentanyl codeine
morphine tylenol paracetamol acetaminophen ibuprofen advil motrin aleve naproxen aspirin panadol
nurofen excedrin benadryl zyrtec claritin sudafed nyquil dayquil imodium immodium pepto tums
metformin ozempic wegovy mounjaro insulin levothyroxine synthroid lisinopril amlodipine atorvastatin
lipitor omeprazole prilosec nexium zantac prednisone spravato esketamine ketamine cialis viagra
depakote divalproex tegretol carbamazepine topamax topiramate trileptal keppra antabuse disulfiram
campral acamprosate elavil amitriptyline nortriptyline pamelor anafranil clomipramine luvox
fluvoxamine pristiq desvenlafaxine trintellix vortioxetine viibryd auvelity zulresso zurzuvae
meth molly mdma lsd shrooms xanny xannies percs addy benzos benzo
google facebook instagram insta whatsapp tiktok snapchat reddit youtube twitter zoom skype skyped
facetime imessage spotify netflix hulu disney amazon walmart walgreens cvs target costco kroger
applebee applebees mcdonalds mcdonald starbucks dunkin chipotle wendys subway uber lyft doordash
grubhub airbnb venmo paypal zelle cashapp tinder bumble hinge grindr linkedin pinterest tumblr
discord twitch xbox playstation nintendo fortnite minecraft roblox iphone ipad android samsung
macbook alexa siri chatgpt openai gmail outlook hotmail yahoo etsy ebay craigslist nextdoor
betterhelp talkspace headspace calm noom fitbit peloton duolingo kindle audible podcast webmd
medicaid medicare obamacare tricare kaiser aetna cigna humana anthem bluecross
pokies lotto keno blackjack
misophonia asperger aspergers avoidant schizoaffective schizotypal dysthymia anhedonia alexithymia
trichotillomania dermatillomania tourette tourettes alzheimer alzheimers parkinson parkinsons crohn
crohns hashimoto huntington fibromyalgia endometriosis ehlers danlos cptsd bpd npd ednos arfid osfed
pmdd pcos ibs tbi emdr ifs act mbct ssri ssris snri snris maoi maois covid
sewerslide unalive unalived unaliving kms kys sudoku eish ag jeez gosh blimey crikey och aye cannae
dinnae wouldnae couldnae feckin fecking bloody innit init wahala abeg oya walao lah leh aiyo aiyah
med meds app apps calpol calpol's lemsip beechams piriton night nurse
naebody nae cannae
ammi abbu ammu abba nani nanu dadi dada baba mami papi oma opa nonna nonno babcia dziadek babushka
bibi umma eomma oppa unnie noona hyung obaachan ojiichan okaasan otousan lola lolo tita tito yaya
kia ora namaste salaam salam assalamu alaikum shukran asante jambo sawubona olá oi konnichiwa arigato
annyeong nihao privet spasibo obrigado obrigada grazie bonjour bonsoir hallo hej kiitos merhaba shalom habibi wallahi inshallah mashallah ciao hola gracias merci danke
tbh lol lmao lmfao rofl idk idc ngl omg omfg smh btw fyi imo imho jk ikr wtf wth tho thx ty pls plz
ppl bc cuz rn nvm ttyl brb irl dm dms fomo yolo bff bestie af asf fr frfr ong lowkey highkey bruh
yall y'all ain't gonna wanna gotta kinda sorta dunno lemme gimme okey okie ok'd
""".split())

# Characters and one-name public figures a client may mention ("how would Iroh handle this",
# "Frodo carrying the ring"); written from general knowledge. Not patient identifiers.
PUBLIC_SINGLE_NAMES = frozenset("""
frodo bilbo gandalf aragorn legolas gollum sauron samwise hermione dumbledore voldemort hagrid snape
katniss peeta sherlock moriarty yoda skywalker vader chewbacca spock kirk picard iroh zuko aang katara
naruto sasuke goku vegeta pikachu totoro mario luigi zelda kirby sonic lara croft geralt kratos
elsa moana simba mufasa nemo dory shrek buzz woody gatsby atticus heathcliff darcy bridgerton
daenerys tyrion cersei lannister targaryen stark frodo's gandalf's hermione's
homer bart marge lisa simpson elmo kermit garfield snoopy batman superman spiderman wolverine thanos
loki thor hulk groot deadpool gojo eren mikasa luffy totoro's ghibli
beyonce beyoncé rihanna adele drake shakira madonna cher bono sia lizzo zendaya hozier eminem usher
oprah pink lorde rosalía rosalia mitski phoebe bridgers sza kendrick tupac biggie morrissey bjork björk
enya yungblud halsey banksy pelé pele messi ronaldo neymar mbappe mbappé zidane federer nadal djokovic
murakami tolkien rowling dostoevsky tolstoy kafka camus nietzsche rumi kahlil gibran plath woolf austen
brontë bronte dickens orwell hemingway vonnegut salinger steinbeck atwood morrison angelou baldwin
coldplay stardew skyrim pokemon pokémon tetris metallica radiohead paramore gorillaz bts blackpink
taylor's swifties eras
freud jung rogers maslow skinner bowlby winnicott linehan beck ellis frankl yalom perel gottman
""".split())
