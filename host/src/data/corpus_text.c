// Grammar of the built-in voice-search corpus (sparq_corpus.h).
// Templates use {slot} for a word list entry and [a|b|c] for a choice
// (an empty alternative makes the group optional). Entries may contain
// choices and slots themselves.
#include <stdlib.h>
#include <string.h>

#include "sparq_corpus.h"
#include "sparq_text.h"
#include "sparq_rng.h"

struct slot {
    const char *name;
    const char *const *items;
    int count;
};

#define LIST(name, ...)                                                                                                \
    static const char *const name[] = { __VA_ARGS__ };
#define N(a) ((int)(sizeof a / sizeof a[0]))

LIST(s_city, "boston", "chicago", "seattle", "denver", "paris", "london", "tokyo", "berlin", "madrid", "rome",
     "dallas", "austin", "miami", "atlanta", "phoenix", "portland", "toronto", "sydney", "dublin", "vienna", "prague",
     "oslo", "cairo", "lima", "houston", "detroit", "nashville", "memphis", "orlando", "san francisco", "new york",
     "los angeles", "las vegas", "salt lake city", "san diego", "philadelphia", "montreal", "vancouver", "mexico city",
     "amsterdam", "barcelona", "lisbon", "athens", "stockholm", "helsinki", "warsaw", "budapest", "edinburgh",
     "manchester", "glasgow", "new orleans", "minneapolis", "pittsburgh", "baltimore", "cleveland", "kansas city")
LIST(s_day, "today", "tomorrow", "tonight", "this weekend", "on monday", "on tuesday", "on wednesday", "on thursday",
     "on friday", "on saturday", "on sunday", "this morning", "this afternoon", "this evening", "next week",
     "tomorrow morning", "tomorrow night", "over the weekend", "right now", "later today")
LIST(s_weather, "rain", "snow", "be sunny", "be windy", "be cold", "be hot", "be cloudy", "storm", "be foggy",
     "freeze", "hail", "be humid")
LIST(s_wnoun, "an umbrella", "a jacket", "a coat", "a sweater", "a raincoat", "sunscreen", "a hat", "a scarf",
     "boots", "gloves")
LIST(s_place, "the nearest gas station", "the airport", "the train station", "the closest pharmacy", "a coffee shop",
     "the grocery store", "the hospital", "the library", "the post office", "downtown", "home", "work", "the office",
     "the beach", "the mall", "the park", "the museum", "a pizza place", "a chinese restaurant",
     "an italian restaurant", "a hardware store", "the bank", "the gym", "the hotel", "the stadium", "the zoo",
     "the bus stop", "a parking garage", "the city center", "a mexican restaurant", "the dentist", "the school",
     "the university", "the bakery", "a thai restaurant", "the movie theater", "the farmers market", "the harbor",
     "the nearest charging station", "a sushi bar", "the police station", "the fire station", "the market")
LIST(s_route, "avoid [highways|tolls|traffic]", "take the fastest route", "take the scenic route",
     "use [public transport|the subway|the bus]", "[walk|cycle|drive] there")
LIST(s_artist, "the beatles", "taylor swift", "miles davis", "bob marley", "queen", "adele", "beyonce", "coldplay",
     "elvis presley", "johnny cash", "the rolling stones", "frank sinatra", "nina simone", "david bowie", "prince",
     "madonna", "drake", "rihanna", "ed sheeran", "billie eilish", "bruce springsteen", "stevie wonder",
     "aretha franklin", "louis armstrong", "ella fitzgerald", "bob dylan", "michael jackson", "whitney houston",
     "pink floyd", "led zeppelin", "the eagles", "fleetwood mac", "abba", "nirvana", "radiohead")
LIST(s_genre, "jazz", "rock", "classical music", "hip hop", "country music", "blues", "reggae", "pop music",
     "folk music", "electronic music", "soul music", "heavy metal", "piano music", "relaxing music", "dance music",
     "the top hits", "songs from the eighties", "songs from the nineties", "something upbeat", "something calm")
LIST(s_room, "kitchen", "living room", "bedroom", "bathroom", "office", "garage", "dining room", "basement",
     "hallway", "kids room")
LIST(s_contact, "mom", "dad", "grandma", "grandpa", "my sister", "my brother", "john", "sarah", "michael", "emily",
     "david", "jessica", "the doctor", "my boss", "alex", "maria", "james", "linda", "robert", "olivia", "daniel",
     "sophia", "peter", "laura", "kevin", "rachel", "my wife", "my husband", "uncle joe", "aunt susan", "the plumber",
     "the school office", "tom", "anna", "chris", "nicole")
LIST(s_phone, "cell phone", "mobile", "home phone", "work phone", "office number")
LIST(s_msg, "i'm running late", "i'll be home soon", "call me back", "see you tonight", "happy birthday",
     "i'm on my way", "don't forget the milk", "the meeting is canceled", "thanks for dinner", "let's meet at noon",
     "i love you", "can you pick up the kids", "i'm stuck in traffic", "dinner is ready", "where are you",
     "good luck today", "the package arrived", "we need more bread", "i'll call you later", "have a safe trip")
LIST(s_task, "buy milk", "call the bank", "take out the trash", "water the plants", "pay the rent",
     "pick up the laundry", "book a table", "walk the dog", "send the report", "renew my passport", "feed the cat",
     "charge my phone", "check the mail", "lock the door", "take my medicine", "go to the gym", "buy a present",
     "clean the kitchen", "return the library books", "fill up the car")
LIST(s_country, "france", "germany", "japan", "brazil", "canada", "australia", "italy", "spain", "mexico", "india",
     "china", "egypt", "kenya", "norway", "sweden", "peru", "chile", "argentina", "portugal", "greece", "ireland",
     "poland", "turkey", "thailand", "vietnam", "new zealand", "south africa", "iceland", "finland", "morocco")
LIST(s_landmark, "the eiffel tower", "mount everest", "the empire state building", "the statue of liberty",
     "big ben", "the golden gate bridge", "the great pyramid", "mount kilimanjaro", "the space needle",
     "the leaning tower of pisa", "niagara falls", "the grand canyon")
LIST(s_person, "albert einstein", "isaac newton", "marie curie", "abraham lincoln", "william shakespeare",
     "leonardo da vinci", "mozart", "charles darwin", "george washington", "cleopatra", "napoleon", "galileo",
     "jane austen", "martin luther king", "nelson mandela", "thomas edison")
LIST(s_invention, "telephone", "light bulb", "airplane", "internet", "printing press", "television", "radio",
     "computer", "bicycle", "steam engine", "camera", "microwave")
LIST(s_animal, "an elephant", "a giraffe", "a dolphin", "a cheetah", "a penguin", "a blue whale", "an octopus",
     "a kangaroo", "an owl", "a honey bee", "a tiger", "a polar bear", "a shark", "a horse")
LIST(s_food, "pancakes", "lasagna", "banana bread", "chicken soup", "guacamole", "chocolate cake", "fried rice",
     "apple pie", "tomato sauce", "hummus", "scrambled eggs", "french toast")
LIST(s_unit_conv, "miles to kilometers", "pounds to kilograms", "cups to liters", "inches to centimeters",
     "feet to meters", "ounces to grams", "fahrenheit to celsius", "gallons to liters", "dollars to euros",
     "euros to pounds")
LIST(s_tunit, "minutes", "seconds", "hours")
LIST(s_ampm, "a m", "p m", "in the morning", "in the evening", "at night")
LIST(s_device, "lights", "heating", "air conditioning", "fan", "tv", "radio", "coffee machine", "dishwasher",
     "lamp")
LIST(s_app, "spotify", "the calendar", "the camera", "my email", "the maps", "the weather app", "youtube",
     "the settings", "my photos", "the news")
LIST(s_team, "the yankees", "the lakers", "the patriots", "the red sox", "the bulls", "chelsea", "arsenal",
     "the giants", "the warriors", "the cubs")

// Numbers are generated, not listed: "num:LO:HI" picks an integer in
// [LO, HI] and spells it with sparq_number_words().
static const struct slot slots[] = {
    { "city", s_city, N(s_city) },          { "day", s_day, N(s_day) },
    { "weather", s_weather, N(s_weather) }, { "wnoun", s_wnoun, N(s_wnoun) },
    { "place", s_place, N(s_place) },       { "route", s_route, N(s_route) },
    { "artist", s_artist, N(s_artist) },    { "genre", s_genre, N(s_genre) },
    { "room", s_room, N(s_room) },          { "contact", s_contact, N(s_contact) },
    { "phone", s_phone, N(s_phone) },       { "msg", s_msg, N(s_msg) },
    { "task", s_task, N(s_task) },          { "country", s_country, N(s_country) },
    { "landmark", s_landmark, N(s_landmark) }, { "person", s_person, N(s_person) },
    { "invention", s_invention, N(s_invention) }, { "animal", s_animal, N(s_animal) },
    { "food", s_food, N(s_food) },          { "conv", s_unit_conv, N(s_unit_conv) },
    { "tunit", s_tunit, N(s_tunit) },       { "ampm", s_ampm, N(s_ampm) },
    { "device", s_device, N(s_device) },    { "app", s_app, N(s_app) },
    { "team", s_team, N(s_team) },
};

LIST(t_weather, "?what's the weather [like|] [in {city}|] {day}", "?will it {weather} [in {city}|] {day}",
     "?[do i need|should i bring] {wnoun} {day}", "?what's the temperature [in {city}|outside|] [right now|]",
     "?how [hot|cold|windy] will it be [in {city}|] {day}", "?is it going to {weather} {day}",
     "[give me|show me|tell me] the [weather|forecast] for {city}", "?what's the forecast for {day}",
     "?when will the rain stop", "?what time is sunset [in {city}|] {day}", "?how humid is it [in {city}|] [today|]",
     "?what's the air quality [in {city}|] [today|]", "?is it snowing in {city}")
LIST(t_nav, "[navigate|take me|give me directions|directions] to {place}", "?how far is {place} [from here|]",
     "?how long [will it|does it] take to get to {place}", "find {place} near [me|here]",
     "[navigate|take me] to {place} and {route}", "?where is {place}", "?what's the traffic like [on the way|] to {place}",
     "?how do i get to {city} [by train|by car|by bus|]", "[show me|find] [a|the] route to {place}",
     "?is there {place} nearby", "[start|begin] navigation [to {place}|]", "?what's my eta",
     "?how far is {city} from {city}", "find parking near {place}")
LIST(t_music, "play [some|] {genre}", "play [music by|songs by|] {artist}", "[play|put on] {genre} in the {room}",
     "[turn up|turn down] the volume", "[skip|skip this|next] [song|track]", "[pause|stop|resume] the music",
     "?what song is this", "?who sings this song", "play my [workout|morning|dinner|road trip] playlist",
     "shuffle [my library|songs by {artist}]", "add this song to my [favorites|playlist]",
     "play the latest album by {artist}", "set the volume to {num:1:10}", "play {genre} on {app}",
     "play the radio", "i want to listen to {artist}")
LIST(t_call, "call {contact}", "call {contact} on [her|his|their] {phone}", "[phone|dial|ring] {contact}",
     "[start|make] a video call with {contact}", "call {contact} on speaker", "redial the last number",
     "?[did i miss|do i have] any calls", "?who called me [today|this morning|]", "call back {contact}",
     "[block|unblock] {contact}", "call the nearest {place_kind}")
LIST(t_msg, "[text|message|send a message to|send a text to] {contact} [saying|that|] {msg}",
     "tell {contact} [that|] {msg}", "read my [messages|texts|new messages]", "?[do i have|are there] any new messages",
     "reply to {contact} [saying|] {msg}", "send an email to {contact} [saying|] {msg}",
     "?what did {contact} [say|write]", "[share|send] my location with {contact}")
LIST(t_timer, "set a timer for {num:1:59} {tunit}", "set a {num:2:30} minute timer",
     "[wake me up|set an alarm] [at|for] {num:1:12} [o'clock|thirty|fifteen|forty five|] [{ampm}|]",
     "remind me to {task} [{day}|at {num:1:12} {ampm}|in {num:2:45} minutes]", "?how much time is left [on my timer|]",
     "[cancel|stop|delete] [my|the] [timer|alarm|reminder]", "[pause|resume] the timer",
     "?what [alarms|reminders|timers] do i have", "snooze [for {num:2:15} minutes|]",
     "set an alarm for [every weekday|tomorrow|saturday] at {num:5:11} [thirty|fifteen|] {ampm}",
     "add {task} to my [to do list|shopping list|calendar]", "?what's on my calendar {day}")
LIST(t_fact, "?how tall is {landmark}", "?what is the capital of {country}", "?who invented the {invention}",
     "?when was {person} born", "?how old was {person} when [he|she] died", "?who was {person}",
     "?what is the population of [{country}|{city}]", "?how far away is the moon", "?how many [people|languages] [live|are spoken] in {country}",
     "?what's {num:2:99} [times|plus|minus|divided by] {num:2:99}", "convert {num:1:100} {conv}",
     "?how fast can {animal} run", "?how long does {animal} live", "?what does {animal} eat",
     "?how do you make {food}", "?how many calories are in {food}", "?what time is it in {city}",
     "?what's the exchange rate [for|between] [dollars and euros|pounds and dollars|yen and dollars]",
     "?who won the [game|match] [last night|yesterday|]", "?when do {team} play [next|tonight|]",
     "?what's the score of the {team} game", "spell the word [necessary|restaurant|beautiful|calendar|weather]",
     "?what's the meaning of [life|the word serendipity]", "?how many days until [christmas|new year|my birthday]",
     "?what's the square root of {num:2:400}", "tell me a [joke|fun fact|story]", "?what's in the news [today|]")
LIST(t_home, "turn [on|off] the {device} [in the {room}|]", "[dim|brighten] the {room} lights [to {num:10:90} percent|]",
     "set the thermostat to {num:60:80} degrees", "[lock|unlock] the [front|back] door", "?is the garage door [open|closed]",
     "[open|launch|start] {app}", "[turn on|turn off|enable|disable] [bluetooth|wi fi|do not disturb|airplane mode]",
     "[start|stop] the {device}", "?what's the temperature in the {room}", "set the {room} to {num:60:80} degrees")

// "call the nearest {place_kind}" needs a short noun list of its own.
LIST(s_place_kind, "pharmacy", "pizza place", "hotel", "taxi company", "vet", "restaurant")

struct category {
    const char *const *templates;
    int count;
    int weight;
};

static const struct category categories[] = {
    { t_weather, N(t_weather), 16 }, { t_nav, N(t_nav), 16 }, { t_music, N(t_music), 15 },
    { t_call, N(t_call), 12 },       { t_msg, N(t_msg), 12 }, { t_timer, N(t_timer), 14 },
    { t_fact, N(t_fact), 18 },       { t_home, N(t_home), 9 },
};

// Spoken openings people use with assistants; usually none. Templates
// starting with '?' are questions and take only the neutral openings.
LIST(s_prefix, "", "", "", "", "", "", "hey ", "ok ", "quick question ", "please ", "can you ", "could you ",
     "i want to ", "i'd like to ", "hey can you ")
#define NEUTRAL_PREFIXES 9

static int rnd(uint64_t *rng, int n) { return (int)(sparq_rng_next(rng) % (uint64_t)n); }

struct out {
    char *buf;
    size_t size, len;
    int overflow;
};

static void emit(struct out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->size) {
        o->overflow = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
}

static void expand(const char *s, size_t n, uint64_t *rng, struct out *o, int depth);

static void expand_slot(const char *name, size_t n, uint64_t *rng, struct out *o, int depth)
{
    if (n > 4 && !strncmp(name, "num:", 4)) {
        int lo = atoi(name + 4);
        const char *colon = memchr(name + 4, ':', n - 4);
        int hi = colon ? atoi(colon + 1) : lo;
        char words[128];
        int len = sparq_number_words((unsigned long long)(lo + rnd(rng, hi - lo + 1)), words, sizeof words);
        if (len > 0)
            emit(o, words, (size_t)len);
        return;
    }
    if (n == 10 && !strncmp(name, "place_kind", 10)) {
        const char *w = s_place_kind[rnd(rng, N(s_place_kind))];
        expand(w, strlen(w), rng, o, depth + 1);
        return;
    }
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        if (strlen(slots[i].name) == n && !strncmp(slots[i].name, name, n)) {
            const char *w = slots[i].items[rnd(rng, slots[i].count)];
            expand(w, strlen(w), rng, o, depth + 1);
            return;
        }
    o->overflow = 1; // unknown slot: a grammar bug, reported as failure
}

static void expand(const char *s, size_t n, uint64_t *rng, struct out *o, int depth)
{
    if (depth > 8) {
        o->overflow = 1;
        return;
    }
    size_t i = 0;
    while (i < n) {
        if (s[i] == '{') {
            size_t j = i + 1;
            while (j < n && s[j] != '}')
                j++;
            expand_slot(s + i + 1, j - i - 1, rng, o, depth);
            i = j + 1;
        } else if (s[i] == '[') {
            // Split the group at top-level '|' (slots inside are fine).
            size_t j = i + 1, starts[32], ends[32];
            int k = 0;
            starts[0] = j;
            while (j < n && s[j] != ']') {
                if (s[j] == '|' && k < 31) {
                    ends[k++] = j;
                    starts[k] = j + 1;
                }
                j++;
            }
            ends[k++] = j;
            int pick = rnd(rng, k);
            expand(s + starts[pick], ends[pick] - starts[pick], rng, o, depth + 1);
            i = j + 1;
        } else {
            emit(o, s + i, 1);
            i++;
        }
    }
}

int sparq_corpus_sentence(uint64_t *rng, char *buf, size_t size)
{
    int total = 0;
    for (size_t c = 0; c < sizeof categories / sizeof categories[0]; c++)
        total += categories[c].weight;
    int r = rnd(rng, total);
    size_t c = 0;
    while (r >= categories[c].weight) {
        r -= categories[c].weight;
        c++;
    }
    const char *t = categories[c].templates[rnd(rng, categories[c].count)];
    char tmp[1024];
    struct out o = { tmp, sizeof tmp, 0, 0 };
    tmp[0] = 0;
    int question = t[0] == '?';
    t += question;
    int pick = rnd(rng, question ? NEUTRAL_PREFIXES : N(s_prefix));
    if (!question && pick == NEUTRAL_PREFIXES - 1) // "quick question" suits questions only
        pick = NEUTRAL_PREFIXES;
    const char *prefix = s_prefix[pick];
    emit(&o, prefix, strlen(prefix));
    expand(t, strlen(t), rng, &o, 0);
    if (o.overflow)
        return -1;
    // Choices leave doubled or trailing spaces; the normaliser tidies them.
    char *norm = sparq_text_normalize(tmp);
    if (!norm)
        return -1;
    size_t len = strlen(norm);
    if (len + 1 > size) {
        free(norm);
        return -1;
    }
    memcpy(buf, norm, len + 1);
    free(norm);
    return (int)len;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

// Adds every literal word of s (outside {slot} names) to the set.
static void collect(const char *s, char ***words, size_t *n, size_t *cap)
{
    size_t i = 0, len = strlen(s);
    while (i < len) {
        if (s[i] == '{') {
            while (i < len && s[i] != '}')
                i++;
            i++;
            continue;
        }
        if ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '\'') {
            size_t j = i;
            while (j < len && ((s[j] >= 'a' && s[j] <= 'z') || s[j] == '\''))
                j++;
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 512;
                *words = realloc(*words, *cap * sizeof(char *));
            }
            (*words)[(*n)++] = strndup(s + i, j - i);
            i = j;
        } else
            i++;
    }
}

static const char **vocab;
static size_t vocab_n;

size_t sparq_corpus_vocabulary(const char ***out)
{
    if (!vocab) {
        char **w = NULL;
        size_t n = 0, cap = 0;
        for (size_t c = 0; c < sizeof categories / sizeof categories[0]; c++)
            for (int t = 0; t < categories[c].count; t++)
                collect(categories[c].templates[t], &w, &n, &cap);
        for (size_t s = 0; s < sizeof slots / sizeof slots[0]; s++)
            for (int k = 0; k < slots[s].count; k++)
                collect(slots[s].items[k], &w, &n, &cap);
        for (int k = 0; k < N(s_place_kind); k++)
            collect(s_place_kind[k], &w, &n, &cap);
        for (int k = 0; k < N(s_prefix); k++)
            collect(s_prefix[k], &w, &n, &cap);
        // Number words the num:LO:HI slots can produce (up to 400).
        for (int v = 1; v <= 400; v++) {
            char buf[128];
            if (sparq_number_words((unsigned long long)v, buf, sizeof buf) > 0)
                collect(buf, &w, &n, &cap);
        }
        qsort(w, n, sizeof(char *), cmp_str);
        size_t u = 0;
        for (size_t i = 0; i < n; i++) {
            if (u && !strcmp(w[u - 1], w[i])) {
                free(w[i]);
                continue;
            }
            w[u++] = w[i];
        }
        vocab = (const char **)w;
        vocab_n = u;
    }
    *out = vocab;
    return vocab_n;
}
