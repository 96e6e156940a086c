//! Deterministic generator for the demo catalogue.
//!
//! Everything here is derived from a fixed seed with a tiny built-in PRNG (splitmix64), so
//! [`products()`] and [`categories()`] return exactly the same data on every call, on every
//! machine. Only integer arithmetic is used, so there is no floating-point drift either.
//!
//! Data tables use `|` to separate list items and `:` to separate the fields of a product noun
//! (`Name:material:use`), which keeps the tables compact and easy to edit. Editing one category's
//! table only changes that category's products (each category has its own PRNG stream).

use std::collections::HashSet;

/// A product category of the demo shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCategory {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub position: i64,
}

/// A product of the demo shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoProduct {
    /// 1..=N, stable across runs.
    pub id: i64,
    /// Unique, `[a-z0-9-]+`, ends with `-{id}`.
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category_id: i64,
    /// Integer cents.
    pub price_cents: i64,
    /// 0..=250; 0 means sold out.
    pub stock: i64,
    pub featured: bool,
    /// `/img/{category-slug}-{k}.svg`, k in 1..=4.
    pub image: String,
    /// Unix milliseconds, within the 365 days before [`CATALOGUE_END_MS`].
    pub created_at: i64,
    /// Units sold, 0..=5000, skewed towards the low end.
    pub popularity: i64,
}

/// Number of products generated per category.
pub const PRODUCTS_PER_CATEGORY: usize = 45;
/// Number of image variants per category (`/img/{slug}-1.svg` ..= `/img/{slug}-4.svg`).
pub const IMAGES_PER_CATEGORY: u64 = 4;
/// 2026-11-01T00:00:00Z in unix milliseconds; every `created_at` lies in the year before it.
pub const CATALOGUE_END_MS: i64 = 1_793_491_200_000;
const DAY_MS: i64 = 86_400_000;
const SEED: u64 = 0x5EED_DE30_2026_1101;
const FEATURED_TOTAL: usize = 16;

/// splitmix64: tiny, fast, good enough for demo data, and fully deterministic.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish value in `0..n` (the modulo bias is irrelevant for demo data).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

struct CategoryData {
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    qualifiers: &'static str,
    /// `Name:typical price in whole units:material:use` entries.
    nouns: &'static str,
    /// Category-specific second sentences.
    details: &'static str,
}

const CATEGORIES: [CategoryData; 12] = [
    CategoryData {
        slug: "kitchen",
        name: "Kitchen",
        description: "Cookware, knives and tableware for everyday cooking and entertaining.",
        qualifiers: "Classic|Nordic|Heritage|Everyday|Pro|Compact|Artisan|Bistro|Farmhouse|Studio|Coastal|Alpine",
        nouns: "Chef's Knife:89:high-carbon stainless steel with a walnut handle:slicing, dicing and everyday prep|\
            Cutting Board:45:end-grain acacia wood:chopping and serving|\
            Dutch Oven:149:enamelled cast iron:slow braises, stews and crusty bread|\
            Skillet:59:pre-seasoned cast iron:searing, frying and oven-to-table cooking|\
            Saucepan:69:tri-ply stainless steel:sauces, grains and reheating leftovers|\
            Salad Bowl:49:hand-turned olive wood:tossing and serving salads|\
            Pepper Mill:35:beech wood with a ceramic grinder:seasoning at the table|\
            Colander:25:perforated stainless steel:draining pasta and rinsing vegetables|\
            Mixing Bowl Set:39:nesting borosilicate glass:baking and meal prep|\
            Tea Kettle:55:brushed stainless steel:brewing tea on any hob|\
            French Press:35:borosilicate glass and steel:brewing rich coffee for two|\
            Café Au Lait Mug:16:glazed stoneware:slow mornings and big milky coffees|\
            Crème Brûlée Torch:29:aluminium with a refillable butane chamber:caramelising desserts|\
            Smørrebrød Board:39:solid oak:open sandwiches and cheese boards|\
            Utensil Set:29:heat-resistant silicone and beech:stirring, flipping and serving|\
            Baking Sheet:22:heavy-gauge aluminised steel:cookies, roast vegetables and sheet-pan dinners",
        details: "Easy to clean and made to last for years of daily use.|\
            A favourite with home cooks and professional chefs alike.|\
            Sized to fit neatly in a drawer or on an open shelf.|Tested in our own kitchen through hundreds of meals.|\
            Pairs beautifully with the rest of our kitchen range.|Makes a thoughtful housewarming or wedding gift.",
    },
    CategoryData {
        slug: "home-decor",
        name: "Home & Decor",
        description: "Lamps, textiles and accents that make a house feel like home.",
        qualifiers: "Oatmeal|Terracotta|Ivory|Charcoal|Sage|Dusty Rose|Ochre|Moss|Minimal|Coastal|Boho|Midcentury",
        nouns: "Table Lamp:89:a ceramic base with a linen shade:reading corners and bedside tables|\
            Throw Blanket:69:soft brushed cotton:sofas and chilly evenings|\
            Cushion Cover:29:stonewashed linen:refreshing a sofa or armchair|\
            Wall Mirror:129:bevelled glass in a brass frame:hallways and bathrooms|\
            Vase:39:hand-thrown ceramic:fresh stems and dried flowers|\
            Scented Candle:24:natural soy wax with a cotton wick:slow evenings at home|\
            Jute Rug:149:hand-woven jute:living rooms and entryways|\
            Wall Clock:59:powder-coated steel with a silent movement:kitchens and studies|\
            Picture Frame:25:solid ash wood and glass:photos and small prints|\
            Storage Basket:35:woven seagrass:blankets, toys and magazines|\
            Floor Lamp:199:an arched steel stem with a linen shade:lighting a favourite reading chair|\
            Bookend Pair:35:cast concrete:keeping shelves tidy|\
            Jacquard Throw:89:heavyweight cotton jacquard:layering on beds and sofas|\
            Étagère Shelf:179:powder-coated steel and oiled oak:displaying plants, books and keepsakes|\
            Incense Holder:19:hand-glazed ceramic:quiet moments and meditation|\
            Doormat:29:natural coir fibre:muddy boots at the front door",
        details: "Designed in-house and made in small batches.|\
            Its neutral tones sit easily in both modern and traditional rooms.|\
            Dust with a soft, dry cloth to keep it looking fresh.|\
            Small variations in colour and texture make every piece unique.|\
            Looks great on its own or grouped with other pieces from the range.|\
            A simple way to bring warmth and texture into any room.",
    },
    CategoryData {
        slug: "outdoor",
        name: "Outdoor",
        description: "Tents, packs and camp gear for weekends in the wild.",
        qualifiers: "Trail|Summit|Ridge|Basecamp|Ultralight|Expedition|Forest Green|Glacier Blue|Canyon|Nomad|Tundra|\
            Scout",
        nouns: "Dome Tent:249:ripstop nylon with aluminium poles:weekend camping trips|\
            Sleeping Bag:129:recycled synthetic insulation:cool nights under canvas|\
            Hiking Backpack:149:water-resistant Cordura:long day hikes|\
            Camping Stove:69:stainless steel with a piezo igniter:boiling water and one-pot meals at camp|\
            Headlamp:35:lightweight polycarbonate:night hikes and tent chores|\
            Water Bottle:29:double-walled stainless steel:keeping drinks cold on the trail|\
            Camp Chair:59:a steel frame and ripstop fabric:campfires and festivals|\
            Hammock:49:parachute nylon:lazy afternoons between two trees|\
            Trekking Poles:89:carbon fibre with cork grips:steep ascents and descents|\
            Lantern:39:aluminium with a dimmable LED:lighting up the campsite|\
            Cooler Box:199:rotomoulded polyethylene:picnics and multi-day trips|\
            Rain Poncho:35:packable ripstop nylon:sudden mountain downpours|\
            Picnic Blanket:45:waterproof-backed fleece:parks, beaches and festivals|\
            Dry Bag:25:welded waterproof TPU:keeping gear dry on the water|\
            Camp Mug:15:enamelled steel:coffee by the campfire|\
            Multi-Tool:59:hardened stainless steel:quick repairs and camp tasks",
        details: "Field-tested on multi-day trips in all four seasons.|\
            Packs down small and weighs less than you would expect.|\
            Built to shrug off rain, mud and the occasional drop.|Comes with a stuff sack for easy packing.|\
            Backed by our no-quibble outdoor guarantee.|\
            A reliable companion for first-timers and seasoned adventurers.",
    },
    CategoryData {
        slug: "electronics",
        name: "Electronics",
        description: "Headphones, speakers and smart gadgets for work and play.",
        qualifiers: "Nova|Pulse|Aero|Studio|Pro|Mini|Max|Arc|Echo|Flux|Orbit|Midnight",
        nouns:
            "Wireless Headphones:249:memory-foam cushions and an aluminium frame:commutes, flights and focused work|\
            Bluetooth Speaker:99:a fabric-wrapped shell:music in the kitchen or garden|\
            Earbuds:129:lightweight polycarbonate:workouts and calls on the move|\
            Phone Charger:35:a compact gallium-nitride body:fast-charging phones and tablets|\
            Power Bank:49:an aluminium shell:topping up devices on the go|\
            Smart Bulb:19:an energy-efficient LED:setting the mood from your phone|\
            Mechanical Keyboard:139:an aluminium case with hot-swap switches:typing and gaming|\
            Wireless Mouse:49:a textured matte shell:all-day computer work|\
            USB-C Hub:59:anodised aluminium:connecting displays and drives to a laptop|\
            Webcam:89:a glass lens with a privacy shutter:video calls and streaming|\
            E-Reader:149:a glare-free paper-like display:reading in bright sunlight|\
            Smart Plug:19:flame-retardant polycarbonate:scheduling lamps and appliances|\
            Turntable:299:a wooden plinth with a belt drive:spinning vinyl at home|\
            Fitness Tracker:99:a soft silicone strap:counting steps and tracking sleep|\
            Action Camera:249:a waterproof housing:filming rides, dives and hikes|\
            Clock Radio:79:a walnut veneer cabinet:news and music in the morning",
        details: "Intuitive controls make it easy to use from day one.|\
            Sets up in minutes with no account or app required.|Covered by a two-year manufacturer warranty.|\
            Firmware updates keep it improving long after you buy it.|\
            Energy-efficient electronics with a low standby draw.|\
            Comes with a quick-start guide and everything you need in the box.",
    },
    CategoryData {
        slug: "books",
        name: "Books",
        description: "Field guides, cookbooks and novels for curious readers of all ages.",
        qualifiers: "Illustrated|Pocket|Complete|Little|Essential|Modern|Collector's|Deluxe|Hardcover|Paperback|\
            Classic|Revised",
        nouns: "Field Guide to Birds:24:durable flexibound covers:birdwatching walks|\
            Atlas of Rivers:45:heavyweight matte paper:armchair exploring|\
            Guide to Sourdough:28:a lay-flat binding:weekend baking projects|\
            History of Tea:32:a cloth-bound hardcover:curious readers and tea lovers|\
            Book of Knots:15:water-resistant pages:sailing, climbing and camping|\
            Handbook of Houseplants:22:full-colour photography:keeping plants thriving|\
            Guide to Café Culture:35:a cloth-bound hardcover:coffee lovers and travellers|\
            Book of Nordic Baking:30:a lay-flat binding:cosy afternoons in the kitchen|\
            Poetry Anthology:18:acid-free cream paper:quiet evenings|\
            Guide to the Night Sky:20:glow-in-the-dark star charts:backyard stargazing|\
            Sketching Workbook:16:thick drawing paper:learning to draw|\
            Mystery Novel:12:a sturdy paperback binding:rainy weekends|\
            Science Fiction Novel:12:a sturdy paperback binding:long journeys|\
            Picture Book of Animals:10:wipe-clean board pages:bedtime stories|\
            Guide to Mushrooms:22:full-colour illustrated plates:autumn foraging walks|\
            Puzzle Compendium:12:recycled paper:train rides and lazy Sundays",
        details: "Printed on responsibly sourced paper.|A book you will want to return to again and again.|\
            A perfect gift for readers young and old.|Written by an award-winning author with decades of experience.|\
            Includes an index and a list of further reading.|Sized to slip easily into a bag or coat pocket.",
    },
    CategoryData {
        slug: "toys",
        name: "Toys & Games",
        description: "Wooden toys, puzzles and games for playtime and family nights.",
        qualifiers: "Rainbow|Woodland|Jungle|Ocean|Classic|Mini|Jumbo|Pastel|Safari|Starlight|Folk|Meadow",
        nouns: "Building Blocks:39:sustainably sourced beech wood:open-ended play|\
            Teddy Bear:29:soft organic cotton plush:bedtime cuddles|\
            Jigsaw Puzzle:22:thick recycled board:family evenings|\
            Board Game:35:a linen-finish box with wooden pieces:game nights|\
            Card Game:14:smooth-finish card stock:quick games on the go|\
            Kite:25:ripstop nylon with fibreglass rods:breezy days at the beach|\
            Marble Run:59:solid beech wood:building and experimenting|\
            Puppet Theatre:69:painted birch plywood:storytelling and pretend play|\
            Train Set:79:solid wood with magnetic couplings:building tracks across the living room|\
            Rocking Horse:149:solid birch:little riders|\
            Stacking Rings:16:non-toxic painted wood:toddlers learning colours|\
            Dominoes Set:22:smooth hardwood:classic family games|Yo-Yo:8:maple wood:learning tricks|\
            Play Kitchen:129:painted wood with wooden accessories:pretend cooking|\
            Puzzle Cube:12:durable ABS plastic:brain-teasing fun|\
            Pétanque Set:45:chrome-plated steel boules:garden games with the whole family",
        details: "Made with child-safe, non-toxic materials and finishes.|Tested to European toy-safety standards.|\
            Suitable for ages three and up.|Encourages creativity, problem-solving and fine motor skills.|\
            Arrives in a sturdy box that doubles as storage.|Built to be handed down from one child to the next.",
    },
    CategoryData {
        slug: "apparel",
        name: "Apparel",
        description: "Everyday clothing in natural fibres, made to be worn for years.",
        qualifiers: "Navy|Oatmeal|Charcoal|Olive|Rust|Ecru|Forest|Slate|Camel|Indigo|Burgundy|Heather Grey",
        nouns: "Merino Crew Sweater:99:fine merino wool:layering on cool days|\
            Organic Cotton T-Shirt:29:heavyweight organic cotton:everyday wear|\
            Oxford Shirt:65:brushed cotton oxford cloth:the office and weekends alike|\
            Denim Jacket:119:rigid selvedge denim:year-round layering|\
            Chinos:75:stretch cotton twill:smart-casual days|\
            Fleece Hoodie:69:brushed-back cotton fleece:lounging and weekend errands|\
            Lambswool Scarf:49:soft lambswool:cold winter mornings|\
            Ribbed Beanie:29:ribbed merino wool:chilly commutes|Linen Shirt:69:washed European linen:hot summer days|\
            Rain Jacket:149:a waterproof recycled shell:unpredictable weather|\
            Quilted Vest:89:recycled down-alternative fill:brisk autumn walks|\
            Piqué Polo Shirt:49:breathable cotton piqué:warm-weather weekends|\
            Corduroy Trousers:85:soft wide-wale corduroy:autumn and winter|\
            Flannel Pyjama Set:59:brushed cotton flannel:slow mornings|\
            Puffer Jacket:199:responsibly sourced down:the coldest days of the year|\
            Cashmere Cardigan:179:pure Mongolian cashmere:cosy layering",
        details: "Cut for a relaxed, true-to-size fit.|Machine washable at 30 degrees.|\
            Made in a certified fair-trade factory.|Garment-dyed for a soft, lived-in colour.|\
            Reinforced seams keep the shape wash after wash.|\
            Designed to pair easily with the rest of your wardrobe.",
    },
    CategoryData {
        slug: "shoes",
        name: "Shoes",
        description: "Sneakers, boots and sandals built for comfort and style.",
        qualifiers: "Chalk White|Black|Tan|Navy|Sand|Cognac|Olive|Grey|Burgundy|Stone|Espresso|Oat",
        nouns: "Canvas Sneaker:69:organic cotton canvas with a natural rubber sole:everyday city walking|\
            Running Shoe:129:engineered mesh with a responsive foam midsole:daily training runs|\
            Chelsea Boot:179:full-grain leather with elastic side panels:smart-casual days|\
            Hiking Boot:169:waterproof nubuck leather:rugged mountain trails|\
            Loafer:139:soft suede:the office and summer evenings|\
            Espadrille:49:cotton canvas with a braided jute sole:beach holidays|\
            Derby Shoe:159:polished calf leather:weddings and workdays|Knit Slip-On:79:recycled knit:quick errands|\
            Sandal:69:vegetable-tanned leather straps:hot summer days|\
            Ankle Boot:159:waxed suede with a stacked heel:autumn outfits|\
            Trail Runner:139:a grippy lugged outsole:off-road running|\
            House Slipper:45:boiled wool with a felt sole:padding around the house|\
            Desert Boot:129:suede with a crepe sole:relaxed weekends|\
            Après-Ski Boot:149:insulated waterproof nylon:snowy evenings after the slopes|\
            Ballet Flat:89:soft nappa leather:all-day comfort|\
            High-Top Sneaker:119:premium full-grain leather:street style",
        details: "A cushioned footbed keeps you comfortable from morning to night.|\
            Runs true to size; half sizes should size up.|Resoleable construction means they can last for years.|\
            Lined for comfort with or without socks.|Comes with a cotton dust bag and a spare set of laces.|\
            Breaks in quickly and moulds to the shape of your foot.",
    },
    CategoryData {
        slug: "beauty",
        name: "Beauty",
        description: "Gentle skincare, bath and body essentials with clean ingredients.",
        qualifiers: "Rose|Lavender|Neroli|Sandalwood|Cedar|Citrus|Vanilla|Fig|Chamomile|Sea Salt|Jasmine|Eucalyptus",
        nouns: "Face Serum:38:a lightweight hyaluronic acid formula:morning and evening routines|\
            Hand Cream:14:shea butter and glycerin:dry, hard-working hands|\
            Lip Balm:6:beeswax and cold-pressed oils:chapped winter lips|\
            Body Wash:16:a gentle coconut-derived cleanser:daily showers|\
            Shampoo Bar:12:plastic-free solid shampoo:all hair types|\
            Conditioner:18:nourishing argan oil:soft, tangle-free hair|\
            Facial Cleanser:22:a mild gel formula:removing makeup and daily grime|\
            Night Cream:45:squalane and ceramides:overnight repair|\
            Body Oil:32:cold-pressed jojoba and almond oils:after-shower moisturising|\
            Bath Salts:19:mineral-rich Epsom salt:unwinding after a long day|\
            Clay Mask:24:French green clay:a weekly deep clean|\
            Eau de Toilette:65:a blend of natural essential oils:everyday wear|\
            Hydrating Day Crème:35:aloe vera and vitamin E:all-day hydration|\
            Mineral Sunscreen:24:non-nano zinc oxide:sunny days outdoors|\
            Soap Bar:7:cold-process olive oil soap:hands and body|\
            Sugar Scrub:21:raw cane sugar and nourishing oils:gentle exfoliation",
        details: "Vegan and never tested on animals.|Dermatologically tested and suitable for sensitive skin.|\
            Packaged in recyclable glass and aluminium.|Free from parabens, sulphates and synthetic dyes.|\
            A little goes a long way, so one lasts for months.|Made in small batches in our partner lab.",
    },
    CategoryData {
        slug: "sports",
        name: "Sports & Fitness",
        description: "Equipment and accessories for training at home, in the gym or on the field.",
        qualifiers: "Core|Flex|Iron|Power|Pro|Endurance|Sprint|Zen|Titan|Active|Charge|Peak",
        nouns: "Yoga Mat:59:natural tree rubber with a grippy surface:daily yoga and stretching|\
            Dumbbell Set:149:cast iron with knurled steel handles:strength training at home|\
            Kettlebell:49:powder-coated cast iron:swings, squats and presses|\
            Resistance Bands:25:layered natural latex:mobility and strength work|\
            Jump Rope:19:a steel cable with ball-bearing handles:fast cardio sessions|\
            Foam Roller:29:high-density EVA foam:post-workout recovery|\
            Gym Bag:55:water-resistant recycled polyester:carrying kit to the gym|\
            Shaker Bottle:12:BPA-free Tritan:protein shakes after training|\
            Pull-Up Bar:39:powder-coated steel:upper-body workouts in a doorway|\
            Yoga Block:15:recycled cork:supporting deeper stretches|\
            Boxing Gloves:59:padded synthetic leather:bag work and sparring|\
            Tennis Racket:139:a lightweight graphite frame:baseline rallies|\
            Football:29:stitched synthetic leather:matches and training|\
            Basketball:35:grippy composite leather:indoor and outdoor courts|\
            Balance Board:69:birch plywood:core strength and stability|\
            Ab Wheel:22:a steel axle with foam grips:core workouts",
        details: "Trusted by personal trainers and weekend athletes alike.|\
            Compact enough to store under a bed or in a cupboard.|\
            Sweat-resistant and easy to wipe down after a session.|Comes with a printable beginner workout plan.|\
            Built to take a beating, session after session.|A great way to stay consistent without a gym membership.",
    },
    CategoryData {
        slug: "garden",
        name: "Garden",
        description: "Tools, planters and outdoor accents for gardeners of every level.",
        qualifiers: "Cottage|Heritage|Meadow|Orchard|Evergreen|Moss Green|Sage|Willow|Olive|Greenhouse|Hedgerow|\
            Allotment",
        nouns: "Trowel:19:forged stainless steel with an ash handle:planting bulbs and seedlings|\
            Pruning Shears:35:hardened carbon steel blades:shaping shrubs and deadheading|\
            Watering Can:39:galvanised steel:watering pots and borders|\
            Plant Pot:25:frost-resistant glazed ceramic:patios and windowsills|\
            Raised Bed:129:untreated larch wood:growing vegetables in small spaces|\
            Garden Kneeler:19:dense waterproof foam:weeding without sore knees|\
            Hose Reel:79:rust-proof powder-coated steel:tidy hose storage|\
            Bird Feeder:29:recycled metal with a squirrel guard:feeding garden birds year-round|\
            Seed Starter Kit:18:biodegradable coir pots:sowing seeds indoors|\
            Gardening Gloves:14:breathable nitrile-coated cotton:thorny pruning jobs|\
            Compost Bin:65:recycled plastic:turning kitchen scraps into rich compost|\
            Herb Planter:55:FSC-certified cedar:growing herbs by the kitchen door|\
            Garden Fork:45:forged carbon steel:turning heavy soil|\
            Wheelbarrow:119:a galvanised steel tray:moving soil, mulch and leaves|\
            Solar Path Light:25:weatherproof stainless steel:lighting garden paths after dark|\
            Bee Hotel:29:untreated pine and bamboo tubes:supporting solitary bees",
        details: "Weatherproof and happy to live outside all year.|Chosen and tested by our team of keen gardeners.|\
            Thoughtfully designed for years of use outdoors.|\
            Rinse with water and dry after use to keep everything in top condition.|\
            A welcome gift for new and experienced gardeners alike.|\
            Helps wildlife and plants thrive in gardens of every size.",
    },
    CategoryData {
        slug: "office",
        name: "Office",
        description: "Stationery and desk essentials for a calm, productive workspace.",
        qualifiers: "Classic|Minimal|Atelier|Nordic|Slate|Kraft|Midnight Blue|Sage|Graphite|Terracotta|Studio|Ivory",
        nouns: "Notebook:18:acid-free dotted paper with a lay-flat binding:notes, sketches and planning|\
            Fountain Pen:45:a brass barrel with a steel nib:everyday writing|\
            Desk Organiser:35:solid bamboo:tidying pens, phones and paper clips|\
            Desk Lamp:79:an adjustable aluminium arm:late-night work|\
            Monitor Stand:89:oiled walnut:raising a screen to eye level|\
            Weekly Planner:24:recycled paper with a linen cover:mapping out the week|\
            Pencil Set:12:incense-cedar wood:sketching and note-taking|\
            Document Folder:69:vegetable-tanned leather:meetings and commutes|\
            Desk Mat:49:merino felt and cork:a quieter, comfier workspace|\
            Stapler:25:die-cast metal:reliable day-to-day filing|\
            Letter Tray:29:powder-coated steel:sorting incoming paperwork|\
            Laptop Sleeve:45:padded wool felt:protecting a laptop on the go|\
            Cable Organiser:12:soft silicone:taming desk cables|\
            Répertoire Address Book:22:a cloth-bound cover with alphabet tabs:keeping contacts on paper|\
            Whiteboard:59:magnetic lacquered steel:brainstorming and to-do lists|\
            Washi Tape Set:9:Japanese rice paper:decorating journals and labelling",
        details: "Designed to make a small desk feel calm and organised.|\
            Made to be used every day and to look better with age.|\
            A thoughtful gift for students, writers and home workers.|\
            Part of our modular desk range, so pieces work well together.|\
            Finished in a muted palette that suits any desk.|Plastic-free packaging, recyclable at home.",
    },
];

/// Sentence templates: `{name}`, `{material}` and `{use}` are substituted.
/// `{is}`, `{pairs}` and `{uses}` agree with the noun ("is"/"are"). Materials starting with
/// "a"/"an" only use the last four, which read well with an article.
const OPENERS: [&str; 6] = [
    "Made from {material}, the {name} {is} built for {use}.",
    "Designed for {use}, the {name} {is} crafted from {material}.",
    "The {name} {pairs} {material} with a clean, practical design, ideal for {use}.",
    "Our {name} {uses} {material} and {is} a dependable choice for {use}.",
    "Meet the {name}: {material}, shaped for {use}.",
    "Built around {material}, the {name} {is} made for {use}.",
];

const CLOSERS: [&str; 6] = [
    "Ships in recyclable, plastic-free packaging.",
    "Covered by our two-year warranty.",
    "Free returns within 30 days.",
    "Part of our responsibly sourced collection.",
    "Each piece is checked by hand before it leaves our warehouse.",
    "Order before 2pm for same-day dispatch.",
];

fn split_list(s: &'static str) -> Vec<&'static str> {
    s.split('|').map(str::trim).filter(|item| !item.is_empty()).collect()
}

/// A product noun with its typical price and the material and use that its description mentions.
struct Noun {
    name: &'static str,
    base_price: i64,
    material: &'static str,
    usage: &'static str,
}

impl Noun {
    /// "Pruning Shears", "Chinos" are plural; "Guide to Mushrooms" is not.
    fn is_plural(&self) -> bool {
        let last = self.name.rsplit(' ').next().unwrap_or_default();
        let titled = self.name.contains(" of ") || self.name.contains(" to ");
        last.ends_with('s') && !last.ends_with("ss") && !titled
    }
}

fn parse_nouns(s: &'static str) -> Vec<Noun> {
    split_list(s)
        .into_iter()
        .map(|entry| {
            let mut parts = entry.splitn(4, ':').map(str::trim);
            let mut next = || parts.next().unwrap_or_default();
            let (name, base_price, material, usage) = (next(), next(), next(), next());
            let base_price = base_price.parse().unwrap_or(20);
            Noun { name, base_price, material, usage }
        })
        .collect()
}

/// Lowercase ASCII slug: common Latin letters with diacritics are transliterated, apostrophes are
/// dropped, every other run of characters becomes a single `-`.
fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_dash = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let mut buf = [0u8; 4];
        let mapped: &str = match c {
            'a'..='z' | '0'..='9' => c.encode_utf8(&mut buf),
            '\'' | '\u{2019}' => continue,
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'æ' => "ae",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'œ' => "oe",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'ß' => "ss",
            _ => {
                pending_dash = true;
                continue;
            }
        };
        if pending_dash && !out.is_empty() {
            out.push('-');
        }
        pending_dash = false;
        out.push_str(mapped);
    }
    out
}

/// Price in cents between 70% and 140% of the noun's typical price (at least 5 whole units),
/// ending in .99 (60%), .00 (25%) or .50 (15%).
fn price_cents(rng: &mut Rng, base: i64) -> i64 {
    let units = (base * (70 + rng.below(71) as i64) / 100).max(5);
    match rng.below(100) {
        0..=59 => units * 100 + 99,
        60..=84 => units * 100,
        _ => units * 100 + 50,
    }
}

/// 6% sold out, 8% low stock (1..=5), the rest 6..=250.
fn stock(rng: &mut Rng) -> i64 {
    match rng.below(1_000) {
        0..=59 => 0,
        60..=139 => 1 + rng.below(5) as i64,
        _ => 6 + rng.below(245) as i64,
    }
}

/// Units sold, 0..=5000, with a long tail: about 2.5% best sellers (2500..=5000), the rest
/// 2000 * u^4 for uniform u in [0, 1] (median around 125).
fn popularity(rng: &mut Rng) -> i64 {
    if rng.below(1_000) < 25 {
        return 2_500 + rng.below(2_501) as i64;
    }
    let u = rng.below(10_001) as i64;
    let u2 = u * u / 10_000;
    u2 * u2 / 10_000 * 2_000 / 10_000
}

fn description(rng: &mut Rng, name: &str, noun: &Noun, details: &[&str]) -> String {
    let with_article = noun.material.starts_with("a ") || noun.material.starts_with("an ");
    let first = if with_article { 2 } else { 0 };
    let (is, pairs, uses) = if noun.is_plural() { ("are", "pair", "use") } else { ("is", "pairs", "uses") };
    let opener = OPENERS[first + rng.index(OPENERS.len() - first)]
        .replace("{name}", name)
        .replace("{material}", noun.material)
        .replace("{use}", noun.usage)
        .replace("{is}", is)
        .replace("{pairs}", pairs)
        .replace("{uses}", uses);
    let mut text = format!("{opener} {}", details[rng.index(details.len())]);
    if rng.below(2) == 0 {
        text.push(' ');
        text.push_str(CLOSERS[rng.index(CLOSERS.len())]);
    }
    text
}

/// `"{qualifier} {noun}"`, trying every qualifier from `start` on, before falling back to a model
/// number ("Mk II", "Mk III", ...).
fn unique_name(used: &HashSet<String>, qualifiers: &[&str], start: usize, noun: &str) -> String {
    let mut candidates =
        (0..qualifiers.len()).map(|k| format!("{} {noun}", qualifiers[(start + k) % qualifiers.len()]));
    if let Some(name) = candidates.find(|c| !used.contains(c)) {
        return name;
    }
    let base = format!("{} {noun}", qualifiers[start]);
    const MARKS: [&str; 5] = ["II", "III", "IV", "V", "VI"];
    let marks = MARKS.iter().map(|m| m.to_string()).chain((7u32..).map(|n| n.to_string()));
    let mut numbered = marks.map(|m| format!("{base} Mk {m}"));
    numbered.find(|c| !used.contains(c)).unwrap_or_default()
}

/// The 12 demo categories, ids and positions 1..=12.
pub fn categories() -> Vec<DemoCategory> {
    (1..)
        .zip(CATEGORIES.iter())
        .map(|(id, c)| DemoCategory {
            id,
            slug: c.slug.to_string(),
            name: c.name.to_string(),
            description: c.description.to_string(),
            position: id,
        })
        .collect()
}

/// The 540 demo products (45 per category), ids 1..=540, sorted by id.
///
/// Ids are interleaved across categories (id 1 is kitchen, id 2 home-decor, ...) so that a plain
/// "order by id" listing shows a mix of categories.
pub fn products() -> Vec<DemoProduct> {
    let category_count = CATEGORIES.len();
    let mut used_names: HashSet<String> = HashSet::new();
    let mut products = Vec::with_capacity(category_count * PRODUCTS_PER_CATEGORY);

    for (c, data) in CATEGORIES.iter().enumerate() {
        let mut rng = Rng(SEED ^ (c as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
        let qualifiers = split_list(data.qualifiers);
        let nouns = parse_nouns(data.nouns);
        let details = split_list(data.details);

        // Every noun is used (45 products over 16 nouns), in a shuffled order.
        let mut order: Vec<usize> = (0..PRODUCTS_PER_CATEGORY).map(|j| j % nouns.len()).collect();
        rng.shuffle(&mut order);

        for (j, &noun_index) in order.iter().enumerate() {
            let noun = &nouns[noun_index];
            let start = rng.index(qualifiers.len());
            let name = unique_name(&used_names, &qualifiers, start, noun.name);
            used_names.insert(name.clone());
            let id = (j * category_count + c + 1) as i64;
            products.push(DemoProduct {
                id,
                slug: format!("{}-{id}", slugify(&name)),
                description: description(&mut rng, &name, noun, &details),
                name,
                category_id: c as i64 + 1,
                price_cents: price_cents(&mut rng, noun.base_price),
                stock: stock(&mut rng),
                featured: false,
                image: format!("/img/{}-{}.svg", data.slug, 1 + rng.below(IMAGES_PER_CATEGORY)),
                created_at: CATALOGUE_END_MS - 1 - rng.below(365 * DAY_MS as u64) as i64,
                popularity: popularity(&mut rng),
            });
        }
    }
    products.sort_by_key(|p| p.id);
    mark_featured(&mut products, category_count);
    products
}

/// Features one in-stock product per category, plus a second one in a few categories, up to
/// [`FEATURED_TOTAL`].
fn mark_featured(products: &mut [DemoProduct], category_count: usize) {
    let mut rng = Rng(SEED ^ 0xFEA7_05ED);
    let mut per_category = vec![1usize; category_count];
    let mut extra: Vec<usize> = (0..category_count).collect();
    rng.shuffle(&mut extra);
    for &c in extra.iter().take(FEATURED_TOTAL.saturating_sub(category_count)) {
        per_category[c] += 1;
    }
    for (c, &wanted) in per_category.iter().enumerate() {
        let category_id = c as i64 + 1;
        let mut candidates: Vec<usize> =
            (0..products.len()).filter(|&i| products[i].category_id == category_id && products[i].stock > 0).collect();
        rng.shuffle(&mut candidates);
        for &i in candidates.iter().take(wanted) {
            products[i].featured = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    const PUBLIC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../public");

    #[test]
    fn twelve_categories_with_sequential_ids_and_positions() {
        let cats = categories();
        assert_eq!(cats.len(), 12);
        for (i, c) in cats.iter().enumerate() {
            assert_eq!((c.id, c.position), (i as i64 + 1, i as i64 + 1));
            assert!(!c.name.is_empty() && !c.description.is_empty());
            assert!(c.slug.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        }
        assert_eq!(cats.iter().map(|c| c.slug.as_str()).collect::<HashSet<_>>().len(), 12);
    }

    #[test]
    fn product_counts_ids_and_categories() {
        let products = products();
        assert_eq!(products.len(), 540);
        let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
        assert_eq!(ids, (1..=540).collect::<Vec<i64>>(), "ids are unique and 1..=540");
        let mut per_category: HashMap<i64, usize> = HashMap::new();
        for p in &products {
            *per_category.entry(p.category_id).or_default() += 1;
        }
        assert_eq!(per_category.len(), 12);
        assert!(per_category.values().all(|&n| n == 45), "{per_category:?}");
    }

    #[test]
    fn slugs_are_unique_and_url_safe() {
        let mut seen = HashSet::new();
        for p in products() {
            let ok = p.slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            assert!(ok && !p.slug.starts_with('-') && !p.slug.contains("--"), "bad slug {:?}", p.slug);
            assert!(p.slug.ends_with(&format!("-{}", p.id)), "{}", p.slug);
            assert!(seen.insert(p.slug.clone()), "duplicate slug {}", p.slug);
        }
        assert_eq!(slugify("Walnut Chef's Knife"), "walnut-chefs-knife");
        assert_eq!(slugify("Crème Brûlée Torch"), "creme-brulee-torch");
        assert_eq!(slugify("Smørrebrød Board"), "smorrebrod-board");
    }

    #[test]
    fn names_are_unique_and_safe_for_like_queries() {
        let products = products();
        let mut seen = HashSet::new();
        for p in &products {
            assert!(seen.insert(p.name.clone()), "duplicate name {}", p.name);
            assert!(!p.name.contains('%') && !p.name.contains('_'), "{}", p.name);
            assert!(!p.name.contains(" Mk "), "fallback name used: {}", p.name);
            let sentences = p.description.matches(". ").count() + 1;
            assert!((2..=3).contains(&sentences), "{}", p.description);
        }
        assert!(products.iter().any(|p| !p.name.is_ascii()), "need at least one non-ASCII name");
        assert!(products.iter().any(|p| p.name.contains("Crème Brûlée Torch")));
    }

    #[test]
    fn prices_are_believable() {
        for p in products() {
            assert!((499..=49_900).contains(&p.price_cents), "{}: {}", p.name, p.price_cents);
            assert!(matches!(p.price_cents % 100, 0 | 50 | 99), "{}: {}", p.name, p.price_cents);
        }
    }

    #[test]
    fn stock_levels() {
        let products = products();
        assert!(products.iter().all(|p| (0..=250).contains(&p.stock)));
        let sold_out = products.iter().filter(|p| p.stock == 0).count();
        assert!((20..=60).contains(&sold_out), "sold out: {sold_out}");
        assert!(products.iter().any(|p| (1..=5).contains(&p.stock)), "no low-stock products");
    }

    #[test]
    fn featured_products() {
        let products = products();
        let featured: Vec<_> = products.iter().filter(|p| p.featured).collect();
        assert!((12..=20).contains(&featured.len()), "featured: {}", featured.len());
        assert!(featured.iter().all(|p| p.stock > 0));
        let categories: HashSet<i64> = featured.iter().map(|p| p.category_id).collect();
        assert_eq!(categories.len(), 12, "featured products are spread across all categories");
    }

    #[test]
    fn dates_and_popularity_in_range() {
        let products = products();
        let start = CATALOGUE_END_MS - 365 * DAY_MS;
        for p in &products {
            assert!((start..CATALOGUE_END_MS).contains(&p.created_at), "{}", p.created_at);
            assert!((0..=5_000).contains(&p.popularity));
        }
        let best_sellers = products.iter().filter(|p| p.popularity >= 2_500).count();
        let long_tail = products.iter().filter(|p| p.popularity < 500).count();
        assert!((1..=40).contains(&best_sellers), "best sellers: {best_sellers}");
        assert!(long_tail > 270, "long tail: {long_tail}");
    }

    #[test]
    fn images_exist() {
        let cats = categories();
        for p in products() {
            let slug = &cats[(p.category_id - 1) as usize].slug;
            assert!(p.image.starts_with(&format!("/img/{slug}-")), "{}", p.image);
            let path = format!("{PUBLIC_DIR}{}", p.image);
            assert!(Path::new(&path).is_file(), "missing image {path}");
        }
    }

    #[test]
    fn deterministic() {
        assert_eq!(products(), products());
        assert_eq!(categories(), categories());
    }
}
