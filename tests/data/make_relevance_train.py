"""Generate the relevance-model TRAINING set: jobs/seeds/relevance_v2/{clients.csv,labels.jsonl,README.md}.

    python tests/data/make_relevance_train.py                 # seed 20250611 -> jobs/seeds/relevance_v2/
    python tests/data/make_relevance_train.py --seed 7 --out /tmp/rel_v2

A labelled pair is (article, client): label 1 when the article reports a wealth event whose subject is the
client (event_type = one of FAMILIES), label 0 otherwise (event_type "other", negative_kind = one of NEG_KINDS).
Articles are composed from independent blocks: an event clause (verb phrase with five verb forms, so the same
clause can be reported, negated, dated in the past, given to another person or speculated about), slot fillers
(amounts in local currencies, percentages, counterparties, places), lead frames and attributions per writing
style, detail / background / filler / closing sentences, and a name-reference policy (full name in the lead,
only later, or only in the headline; then surname, Mr/Ms/Dr, possessive or a descriptor). Negatives reuse the
same clause bank and vocabulary, so event keywords alone cannot separate the classes.

Everything is fictional and generated from one seeded random.Random; the output is byte-identical for a seed.
This generator and its phrase banks were written without reading tests/data/relevance_eval (a separately
authored evaluation set); nothing here is derived from it.
"""
from __future__ import annotations

import argparse
import collections
import csv
import json
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

SEED = 20250611
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "jobs" / "seeds" / "relevance_v2"
N_CLIENTS = 300
POS_PER_FAMILY = 300
NEG_TOTAL = 3000

FAMILIES = ("liquidity", "m_and_a", "legal_regulatory", "family_succession", "residence_tax", "philanthropy",
            "large_purchase", "business_distress", "leadership_change", "family_office_fund")
NEG_KINDS = ("passing_mention", "quote_unrelated", "guest_list", "conference_speaker", "history", "company_market_story",
             "negated_or_denied", "other_person_event", "speculative_opinion")
STYLES = ("wire", "broadsheet", "trade", "local", "translated")

# --------------------------------------------------------------------------------------------------------------
# Names, places, organisations
# --------------------------------------------------------------------------------------------------------------
# order: given_family ("Anna Lindqvist"), family_given ("Zhou Haoran"), two_surnames (Spanish: 1st surname is the
# short form), middle_surname (Brazilian: the last surname is the short form).
CULTURES = {
    "anglo": dict(order="given_family",
                  male="Alistair Benedict Crispin Desmond Gareth Hamish Lachlan Rupert Nathaniel Tristan Cornelius Fergus",
                  female="Arabella Beatrice Clementine Imogen Harriet Philippa Rosalind Georgina Cordelia Henrietta Octavia Lavinia",
                  surnames="Ashworth Pemberton Hargreaves Thornbury Whitcombe Radcliffe Lockhart Kendrick Wetherby Ainsworth Carrington "
                           "Danforth Ellsworth Fenwick Galloway Hollingsworth Langford Prescott Sutcliffe Templeton Winthrop Bramwell "
                           "Cresswell Pennington",
                  places=[("GB", "London"), ("GB", "Edinburgh"), ("GB", "Manchester"), ("US", "New York"), ("US", "Boston"),
                          ("US", "San Francisco"), ("US", "Miami"), ("AU", "Sydney"), ("AU", "Melbourne"), ("CA", "Toronto"),
                          ("CA", "Vancouver")]),
    "german": dict(order="given_family",
                   male="Friedrich Joachim Wolfgang Matthias Dietrich Konrad Ulrich Florian Leopold Rüdiger Eberhard Volker",
                   female="Annegret Brigitte Cornelia Friederike Gudrun Henrike Ingeborg Mechthild Ulrike Wiebke Hannelore Sieglinde",
                   surnames="Achenbach Brandauer Dahlmeyer Eckhardt Falkenberg Grünewald Hellweg Kesselring Lindemann Mühlbauer "
                            "Oberhuber Pfeiffer Reinholz Schwarzkopf Tiedemann Vogelsang Wendlandt Zinkhan Habermann Kronberger "
                            "Westerkamp Rosenthaler",
                   places=[("DE", "Munich"), ("DE", "Hamburg"), ("DE", "Frankfurt"), ("DE", "Düsseldorf"), ("DE", "Stuttgart"),
                           ("AT", "Vienna"), ("AT", "Salzburg"), ("CH", "Zurich"), ("CH", "Basel")]),
    "french": dict(order="given_family",
                   male="Baptiste Édouard Gaspard Laurent Thibault Amaury Grégoire Hugues Olivier Rémi Arnaud Bertrand",
                   female="Amélie Bérénice Capucine Delphine Éléonore Isaure Margaux Ségolène Solène Victoire Albane Hortense",
                   surnames="Aubertin Beaumarchais Chastellain Dufresne Gaillard Lambertin Lemaire Montcalm Peyrefitte Rochefort "
                            "Valmont Vasseur Courtois Desrosiers Fauconnier Guérin Thévenin Mercadier Laroque Bonnefoy Castagnier "
                            "Delorme",
                   places=[("FR", "Paris"), ("FR", "Lyon"), ("FR", "Bordeaux"), ("FR", "Marseille"), ("BE", "Brussels"),
                           ("BE", "Antwerp"), ("CH", "Geneva"), ("MC", "Monaco")]),
    "italian": dict(order="given_family",
                    male="Alessandro Ferruccio Gianluca Leonardo Massimo Ottavio Raffaele Tommaso Vittorio Emanuele Gualtiero Pierluigi",
                    female="Benedetta Costanza Federica Ginevra Ludovica Ottavia Valentina Vittoria Allegra Fiammetta Donatella Marcella",
                    surnames="Albertini Benvenuti Castellani Donadoni Ferrandi Galimberti Lanfranchi Mazzoleni Orsolini Pellegatti "
                             "Rinaldini Santangelo Tagliaferri Valsecchi Zanardelli Brambilla Cavalcanti Morosini Bellandi "
                             "Cortellazzo Righetti",
                    places=[("IT", "Milan"), ("IT", "Turin"), ("IT", "Rome"), ("IT", "Florence"), ("IT", "Bologna"),
                            ("IT", "Naples"), ("IT", "Verona"), ("CH", "Lugano")]),
    "spanish": dict(order="two_surnames",
                    male="Alejandro Gonzalo Íñigo Rodrigo Fernando Ignacio Álvaro Joaquín Bernardo Emiliano Leopoldo Tomás",
                    female="Ximena Inmaculada Macarena Rocío Valeria Guadalupe Montserrat Leticia Begoña Araceli Consuelo Remedios",
                    surnames="Echevarría Altamirano Bustamante Cifuentes Villalobos Iturriaga Zubizarreta Arrieta Goicoechea "
                             "Larrañaga Sandoval Valdivieso Quiroga Olmedo Urquijo Montalbán Santisteban Alcántara",
                    places=[("ES", "Madrid"), ("ES", "Barcelona"), ("ES", "Seville"), ("ES", "Bilbao"), ("ES", "Valencia"),
                            ("MX", "Mexico City"), ("MX", "Monterrey"), ("CO", "Bogotá"), ("CO", "Medellín"), ("CL", "Santiago"),
                            ("AR", "Buenos Aires")]),
    "indian": dict(order="given_family",
                   male="Aniruddh Devendra Harshvardhan Jayant Nikhil Prakash Rajeshwar Siddharth Vikramaditya Zubin Kartikeya Shashank",
                   female="Anjali Devika Gayatri Kavita Meenakshi Nandini Radhika Shalini Vasundhara Aishwarya Lavanya Sharmila",
                   surnames="Agarwala Bhandarkar Chaturvedi Deshpande Kothari Lakhani Nadkarni Parekh Raghunathan Sabharwal Thakkar "
                            "Venkataraman Wadhwa Mirchandani Khandelwal Iyengar Ruparelia Subramaniam Jhaveri",
                   places=[("IN", "Mumbai"), ("IN", "Delhi"), ("IN", "Bengaluru"), ("IN", "Chennai"), ("IN", "Hyderabad"),
                           ("IN", "Ahmedabad"), ("IN", "Kolkata"), ("IN", "Pune")]),
    "arab": dict(order="given_family",
                 male="Abdulrahman Faisal Hamdan Khalid Majid Nasser Tariq Yousef Rashid Saud Ziyad Abdulaziz",
                 female="Hessa Latifa Mariam Noura Shaikha Lubna Maha Aisha Dalal Rawan Amal Munira",
                 surnames="Al-Mansouri Al-Suwaidi Al-Otaibi Al-Shamsi Al-Harthy Al-Rumaihi Al-Ghanim Khoury Tannous Al-Zaabi "
                          "Al-Mazrouei Al-Kaabi Hamadeh Farhat Sfeir Al-Qahtani Al-Dosari Al-Marzouqi Al-Nuaimi Kanaan",
                 places=[("AE", "Dubai"), ("AE", "Abu Dhabi"), ("SA", "Riyadh"), ("SA", "Jeddah"), ("QA", "Doha"),
                         ("KW", "Kuwait City"), ("LB", "Beirut"), ("EG", "Cairo")]),
    "chinese": dict(order="family_given",
                    male="Haoran Zhiwei Jianguo Tianyu Kaiwen Zihao Junjie Yuxuan Mingyuan Guoqiang Wenbo Shaojie",
                    female="Xinyi Yiling Meiling Wenjing Jiahui Ruoxi Yuqing Shuting Lihua Xiaoyan Huimin Jingwen",
                    surnames="Zhou Huang Zheng Feng Xie Cao Deng Luo Qian Jiang Shen Guo Xu Gao Liang Zhao Cheng Wei",
                    places=[("CN", "Shanghai"), ("CN", "Beijing"), ("CN", "Shenzhen"), ("CN", "Hangzhou"), ("CN", "Guangzhou"),
                            ("HK", "Hong Kong"), ("TW", "Taipei"), ("SG", "Singapore")]),
    "japanese": dict(order="given_family",
                     male="Haruto Kenshiro Masahiro Noboru Ryutaro Shigeru Takeshi Yoshihiro Kazuhiko Tatsuya Hidetoshi Isamu",
                     female="Akiko Chiharu Fumiko Haruka Kaori Mariko Noriko Sayuri Tomoko Yukiko Michiyo Emiko",
                     surnames="Fujiwara Hasegawa Ishikawa Matsumoto Morimoto Nishimura Okuda Sakaguchi Takahashi Uchida Kurokawa "
                              "Shimizu Tsukamoto Hayashida Kobayakawa Nakagawa Yoshizawa Arakawa Iwasaki Kitamura",
                     places=[("JP", "Tokyo"), ("JP", "Osaka"), ("JP", "Nagoya"), ("JP", "Fukuoka"), ("JP", "Kyoto"),
                             ("JP", "Yokohama")]),
    "korean": dict(order="family_given",
                   male="Min-jun Seo-jun Ji-hoon Hyun-seok Jae-hyun Hyun-jun Seung-min Kyu-jin Jin-hyuk Kyung-min Jun-seok Tae-hoon",
                   female="Seo-yeon Ji-yeon Ha-eun Soo-ah Min-seo Eun-ji Hye-jin Yoo-na Na-yeon Soo-jin Mi-rae Ye-jin",
                   surnames="Kim Choi Jung Kang Yoon Jang Lim Seo Kwon Hwang Ahn Jeon Baek Cha Yoo Byun",
                   places=[("KR", "Seoul"), ("KR", "Busan"), ("KR", "Incheon"), ("KR", "Daegu")]),
    "nigerian": dict(order="given_family",
                     male="Adebayo Chukwuemeka Olumide Obinna Babatunde Ifeanyi Oluwaseun Nnamdi Abubakar Kayode Chinedu Olusegun",
                     female="Adaeze Chiamaka Folasade Ngozi Oluwakemi Yetunde Funmilayo Ifeoma Zainab Hadiza Nkechi Temitope",
                     surnames="Adeyemi Okonkwo Balogun Obiora Nwachukwu Oyelaran Adebanjo Okafor Ogunleye Akinwande Ibekwe Olatunji "
                              "Uzodinma Bamidele Onyekachi Abdulsalami Ekwueme Adegoke Nwosu Oyebanji",
                     places=[("NG", "Lagos"), ("NG", "Abuja"), ("NG", "Port Harcourt"), ("NG", "Kano"), ("NG", "Ibadan"),
                             ("NG", "Enugu")]),
    "brazilian": dict(order="middle_surname",
                      male="Thiago Leandro Marcelo Gustavo Otávio Renato Heitor Vinícius Rogério Fabrício Anselmo Wagner",
                      female="Fernanda Luciana Mariana Beatriz Gabriela Juliana Renata Letícia Adriana Tatiana Rosângela Cristiane",
                      surnames="Albuquerque Bittencourt Cavalcante Figueiredo Guimarães Junqueira Magalhães Nogueira Queiroz Siqueira "
                               "Vasconcelos Teixeira Moreira Sampaio Tavares Carvalhal Medeiros Valadares Brandão Leitão",
                      places=[("BR", "São Paulo"), ("BR", "Rio de Janeiro"), ("BR", "Belo Horizonte"), ("BR", "Curitiba"),
                              ("BR", "Porto Alegre"), ("BR", "Recife")]),
    "nordic": dict(order="given_family",
                   male="Anders Bjørn Henrik Torbjörn Mikael Kristoffer Espen Sigurd Håkan Leif Jens Mattias",
                   female="Astrid Ingrid Sigrid Solveig Maren Kaisa Tove Ragnhild Annika Linnea Marit Helmi",
                   surnames="Lindqvist Haugen Bergström Sandvik Rasmussen Kjellberg Halvorsen Nyström Virtanen Lehtonen Dahlgren "
                            "Østergaard Sundqvist Aasen Fjeldstad Holmqvist Engström Tveit Mikkelsen Grönroos",
                   places=[("SE", "Stockholm"), ("SE", "Gothenburg"), ("NO", "Oslo"), ("NO", "Bergen"), ("NO", "Stavanger"),
                           ("DK", "Copenhagen"), ("DK", "Aarhus"), ("FI", "Helsinki")]),
}

# code: (name, adjective, possessive, currency, region, exchange)
COUNTRIES = {
    "GB": ("Britain", "British", "Britain's", "GBP", "Europe", "London Stock Exchange"),
    "US": ("the United States", "American", "America's", "USD", "North America", "New York Stock Exchange"),
    "AU": ("Australia", "Australian", "Australia's", "AUD", "Asia-Pacific", "Australian Securities Exchange"),
    "CA": ("Canada", "Canadian", "Canada's", "CAD", "North America", "Toronto Stock Exchange"),
    "DE": ("Germany", "German", "Germany's", "EUR", "Europe", "Frankfurt Stock Exchange"),
    "AT": ("Austria", "Austrian", "Austria's", "EUR", "Europe", "Vienna Stock Exchange"),
    "CH": ("Switzerland", "Swiss", "Switzerland's", "CHF", "Europe", "SIX Swiss Exchange"),
    "FR": ("France", "French", "France's", "EUR", "Europe", "Euronext Paris exchange"),
    "BE": ("Belgium", "Belgian", "Belgium's", "EUR", "Europe", "Euronext Brussels exchange"),
    "MC": ("Monaco", "Monegasque", "Monaco's", "EUR", "Europe", "Euronext Paris exchange"),
    "IT": ("Italy", "Italian", "Italy's", "EUR", "Europe", "Milan stock exchange"),
    "ES": ("Spain", "Spanish", "Spain's", "EUR", "Europe", "Madrid stock exchange"),
    "MX": ("Mexico", "Mexican", "Mexico's", "MXN", "Latin America", "Mexican stock exchange"),
    "CO": ("Colombia", "Colombian", "Colombia's", "USD", "Latin America", "Colombian stock exchange"),
    "CL": ("Chile", "Chilean", "Chile's", "USD", "Latin America", "Santiago stock exchange"),
    "AR": ("Argentina", "Argentine", "Argentina's", "USD", "Latin America", "Buenos Aires stock exchange"),
    "IN": ("India", "Indian", "India's", "INR", "Asia", "National Stock Exchange"),
    "AE": ("the United Arab Emirates", "Emirati", "the UAE's", "AED", "the Middle East", "Dubai Financial Market"),
    "SA": ("Saudi Arabia", "Saudi", "Saudi Arabia's", "SAR", "the Middle East", "Saudi stock exchange"),
    "QA": ("Qatar", "Qatari", "Qatar's", "QAR", "the Middle East", "Qatar Stock Exchange"),
    "KW": ("Kuwait", "Kuwaiti", "Kuwait's", "KWD", "the Middle East", "Kuwait stock exchange"),
    "LB": ("Lebanon", "Lebanese", "Lebanon's", "USD", "the Middle East", "Beirut stock exchange"),
    "EG": ("Egypt", "Egyptian", "Egypt's", "USD", "the Middle East", "Egyptian Exchange"),
    "CN": ("China", "Chinese", "China's", "CNY", "Asia", "Shanghai Stock Exchange"),
    "HK": ("Hong Kong", "Hong Kong", "Hong Kong's", "HKD", "Asia", "Hong Kong stock exchange"),
    "TW": ("Taiwan", "Taiwanese", "Taiwan's", "TWD", "Asia", "Taiwan Stock Exchange"),
    "SG": ("Singapore", "Singaporean", "Singapore's", "SGD", "Asia", "Singapore Exchange"),
    "JP": ("Japan", "Japanese", "Japan's", "JPY", "Asia", "Tokyo Stock Exchange"),
    "KR": ("South Korea", "South Korean", "South Korea's", "KRW", "Asia", "Korea Exchange"),
    "NG": ("Nigeria", "Nigerian", "Nigeria's", "NGN", "Africa", "Nigerian Exchange"),
    "BR": ("Brazil", "Brazilian", "Brazil's", "BRL", "Latin America", "Sao Paulo stock exchange"),
    "SE": ("Sweden", "Swedish", "Sweden's", "SEK", "the Nordic region", "Stockholm stock exchange"),
    "NO": ("Norway", "Norwegian", "Norway's", "NOK", "the Nordic region", "Oslo stock exchange"),
    "DK": ("Denmark", "Danish", "Denmark's", "DKK", "the Nordic region", "Copenhagen stock exchange"),
    "FI": ("Finland", "Finnish", "Finland's", "EUR", "the Nordic region", "Helsinki stock exchange"),
}

# code: (prefix symbol, suffix, units per USD, words)
CURRENCIES = {
    "USD": ("$", "", 1.0, "US dollars"), "EUR": ("€", "", 0.92, "euros"), "GBP": ("£", "", 0.79, "pounds"),
    "CHF": ("CHF ", "", 0.88, "Swiss francs"), "INR": ("Rs ", "", 83.0, "rupees"), "AED": ("AED ", "", 3.67, "dirhams"),
    "SAR": ("", " riyals", 3.75, "riyals"), "QAR": ("", " riyals", 3.64, "riyals"), "KWD": ("", " dinars", 0.31, "dinars"),
    "CNY": ("", " yuan", 7.2, "yuan"), "HKD": ("HK$", "", 7.8, "Hong Kong dollars"), "TWD": ("NT$", "", 32.0, "Taiwan dollars"),
    "SGD": ("S$", "", 1.35, "Singapore dollars"), "JPY": ("", " yen", 150.0, "yen"), "KRW": ("", " won", 1330.0, "won"),
    "NGN": ("", " naira", 1500.0, "naira"), "BRL": ("R$", "", 5.0, "reais"), "SEK": ("", " Swedish crowns", 10.5, "Swedish crowns"),
    "NOK": ("", " Norwegian crowns", 10.7, "Norwegian crowns"), "DKK": ("", " Danish crowns", 6.9, "Danish crowns"),
    "AUD": ("A$", "", 1.5, "Australian dollars"), "CAD": ("C$", "", 1.36, "Canadian dollars"), "MXN": ("", " pesos", 17.0, "pesos"),
}

# sector key: (word used in company names, noun phrase)
SECTORS = {
    "shipping": ("Shipping", "shipping"), "logistics": ("Logistics", "logistics"), "pharma": ("Pharma", "pharmaceuticals"),
    "software": ("Software", "software"), "retail": ("Retail", "retail"), "property": ("Properties", "real estate"),
    "steel": ("Steel", "steel"), "cement": ("Cement", "cement"), "hotels": ("Hotels", "hotel"), "fashion": ("Fashion", "fashion"),
    "food": ("Foods", "food"), "telecom": ("Telecom", "telecoms"), "mining": ("Resources", "mining"), "energy": ("Energy", "energy"),
    "chemicals": ("Chemicals", "chemicals"), "auto": ("Automotive", "car parts"), "health": ("Healthcare", "private healthcare"),
    "textiles": ("Textiles", "textiles"), "agri": ("Agro", "agribusiness"), "media": ("Media", "media"),
    "payments": ("Payments", "payments"),
}
BRANDS = ("Aldmere Brightwater Caldera Dunmore Everhold Fairhaven Greystone Harrowgate Ironbridge Juniper Kestrel Larkspur Marlowe "
          "Northcote Oakmont Pinecrest Quayside Redhill Silverline Thornfield Upland Valemont Westbury Yarrow Zephyr Arcturus Borealis "
          "Castellan Delmora Estuary Fenmore Galdor Helion Istra Jorvik Kairos Lumera Meridia Norrland Orinoco Palisade Quorum Rivage "
          "Solenne Tamaris Ultima Veritas Wexford Xanthe Ysolde Zenara").split()
CO_SUFFIX = ("Group", "Holdings", "Industries", "International", "Corporation", "Partners")
FUND_SUFFIX = ("Capital Partners", "Equity", "Investment Partners", "Capital", "Private Equity")
BANKS = ("Castellan Securities", "Nordhavn Bank", "Banque Rocheval", "First Meridian", "Kaimon Securities", "Ardent Bank",
         "Halvard & Co", "Sterling Crest Bank", "Pacifica Capital Markets", "Bank Vallora", "Orinoco Securities", "Thornfield Brothers",
         "Lumera Bank", "Aldmere Private Bank", "Westbury Securities")
PAPERS = ("the Financial Ledger", "the Daily Courier", "Wirtschaftskurier", "Le Quotidien Économique", "Il Corriere Finanziario",
          "El Diario Económico", "the Economic Standard", "Gulf Business Daily", "Asia Markets Journal", "Nikkan Keizai Shimbun",
          "the Seoul Economic Herald", "Lagos Business Times", "Jornal do Mercado", "Dagens Affärer", "the Evening Chronicle",
          "the Weekend Review")
TRADE_PUBS = ("Deal Flow Weekly", "Private Wealth Insider", "Mergermarket Monitor", "Capital Markets Brief", "Restructuring Today",
              "Family Office Digest", "Boardroom Review")
AGENCIES = ("Global Wire", "Meridian News", "Pan-Continental Press", "Newsline")
MONTHS = "January February March April May June July August September October November December".split()
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")

# slot fillers -------------------------------------------------------------------------------------------------
OFFENCES = ("tax evasion", "money laundering", "bribery", "market manipulation", "insider trading", "embezzlement",
            "securities fraud", "breach of trust")
AUTHORITIES = ("anti-corruption investigators", "the financial crimes unit", "federal police", "the state security service",
               "economic crimes investigators")
TAXAUTHS = ("the tax authorities in {country}", "the national revenue service", "the tax office in {city}", "tax inspectors")
SANCTIONERS = ("the US Treasury", "the European Union", "the British government", "Switzerland's economic ministry")
JURISDICTIONS = ("London", "the British Virgin Islands", "Singapore", "Cyprus", "New York", "Luxembourg", "Jersey")
REGULATORS = ("the market regulator", "the financial conduct regulator", "the competition authority", "the securities watchdog",
              "the banking supervisor")
VIOLATIONS = ("failing to disclose a share sale", "breaching takeover rules", "misleading investors", "late disclosure of a stake",
              "breaching competition rules")
DISPUTES = ("a failed joint venture", "an unpaid loan", "a soured property deal", "the sale of a shipping business",
            "breach of a shareholder agreement")
FIANCE_DESC = ("a former diplomat", "an architect", "a gallery owner", "a heart surgeon", "a former tennis player", "a lawyer",
               "a novelist", "a fashion designer")
VENUES = ("Lake Como", "a chateau in Provence", "Udaipur", "Marrakech", "a private island in the Maldives", "Capri",
          "the Scottish Highlands", "Santorini")
DESTINATIONS = (("Monaco", "Monte Carlo"), ("Switzerland", "Zug"), ("the United Arab Emirates", "Dubai"), ("Singapore", "Singapore"),
                ("Italy", "Milan"), ("Portugal", "Lisbon"), ("Malta", "Valletta"), ("Cyprus", "Limassol"), ("Andorra", "Andorra la Vella"),
                ("Jersey", "St Helier"), ("Greece", "Athens"), ("Abu Dhabi", "Abu Dhabi"))
CBI = ("Malta", "St Kitts and Nevis", "Antigua and Barbuda", "Grenada", "Dominica", "Vanuatu")
INSTITUTIONS = ("{brand} University", "the {brand} Institute of Technology", "the {brand} Museum of Modern Art",
                "the {ccity} Children's Hospital", "{brand} College", "the {brand} Conservatory of Music", "the {brand} Medical Centre")
CAUSES = ("cancer research", "scholarships for engineering students", "ocean conservation", "early-childhood education",
          "mental health services", "malaria eradication", "climate adaptation research", "a new concert hall", "refugee relief",
          "rural healthcare", "dementia research", "teacher training")
CAUSE_ORGS = ("the {brand} Cancer Trust", "a {ccity} food bank network", "the {brand} Children's Fund", "a refugee relief appeal",
              "the {brand} Ocean Foundation", "a dementia research charity")
FIELDS = ("artificial intelligence", "economics", "climate science", "neuroscience", "public health", "mathematics")
LANDMARKS = ("the {ccity} opera house", "the old cathedral in {ccity}", "a 17th-century palace in {ccity}", "the city's main library")
PRIME_AREAS = ("Belgravia", "Mayfair", "Kensington", "the Upper East Side", "Tribeca", "Palm Beach", "Cap Ferrat", "the Peak",
               "Jumeirah Bay", "Cologny on Lake Geneva", "Pacific Heights", "Bel Air", "Saint-Germain-des-Prés", "Lake Como")
TEAMS = ("Ashbourne Rovers", "Wexmoor City", "Dunhaven Athletic", "Kelsington United", "Marchbury Town", "Porthaven FC",
         "Vellmar Sporting", "Brenmoor Albion", "Real Santa Lucía", "Castelmare Calcio")
LEAGUES = ("second-division English", "Italian Serie B", "Spanish", "Belgian", "Portuguese", "Scottish", "French second-tier")
ARTISTS = ("Mark Rothko", "Gerhard Richter", "Jean-Michel Basquiat", "Francis Bacon", "Pablo Picasso", "Amedeo Modigliani",
           "Yayoi Kusama", "Cy Twombly", "Claude Monet", "Gustav Klimt")
ARTWORKS = ("Untitled (Blue Study)", "Composition No. 7", "Figure in a Landscape", "Garden at Dusk", "Red Interior",
            "Portrait of a Young Woman", "Harbour at Night", "Study for a Head")
SHIPYARDS = ("Lürssen", "Feadship", "Benetti", "Oceanco", "Heesen", "Amels", "Codecasa")
JETS = ("Gulfstream G700", "Bombardier Global 7500", "Dassault Falcon 10X", "Airbus ACJ TwoTwenty", "Embraer Praetor 600")
VINEYARDS = ("Château Belcombe", "Domaine des Aulnes", "Tenuta Valdirose", "Bodega Las Encinas", "Quinta da Serra Alta",
             "Weingut Steinhalde", "Clos Sainte-Aurore")
WINE_REGIONS = ("Bordeaux", "Napa Valley", "Tuscany", "Burgundy", "Rioja", "the Barossa Valley", "the Douro Valley")
RURAL_AREAS = ("the Cotswolds", "Perthshire", "Provence", "Umbria", "the Hamptons", "Mallorca's interior", "the Engadine valley")
COASTS = ("the Costa Smeralda", "Mykonos", "the Amalfi Coast", "Mallorca", "Saint-Tropez", "the Algarve", "Lake Garda")
SKI_RESORTS = ("Gstaad", "Verbier", "St Moritz", "Courchevel", "Aspen", "Niseko", "Kitzbühel")
SEIZED_ASSETS = ("superyacht", "private jet", "London townhouse", "art collection", "villa in Cap Ferrat")
FO_CITIES = ("Singapore", "Dubai", "Zurich", "Geneva", "London", "New York", "Hong Kong", "Abu Dhabi", "Miami", "Luxembourg")
THEMES = ("climate technology", "healthcare", "artificial intelligence", "food security", "fintech", "biotech", "energy transition")
HIST_COMMENTS = ("still shapes the company today", "was widely seen as a turning point", "made headlines at the time",
                 "few in the industry expected", "is still debated among analysts")
FACILITIES = ("distribution centre", "plant", "research centre", "regional headquarters", "warehouse")
RESULTS = ("higher-than-expected quarterly profit", "weaker sales in {region}", "a fall in margins", "record first-half revenue",
           "a cautious outlook for the rest of the year")
SELLER_DESCS = ("a hedge fund manager", "a European industrial family", "a retired technology executive", "a Gulf investor",
                "the estate of a shipping heir")
OFFSHORE = ("the British Virgin Islands", "Jersey", "Luxembourg", "the Cayman Islands", "Guernsey")
GUEST_DESCS = ("the fashion designer {p}", "the conductor {p}", "the former finance minister {p}", "the architect {p}",
               "the tennis player {p}", "{p}, the {tsector} entrepreneur", "the film director {p}", "the art collector {p}")
CONFERENCES = ("the {brand} Family Business Forum", "the {conf_city} Wealth Summit", "the Global Private Capital Conference",
               "the {brand} Private Wealth Forum", "the {conf_city} Family Enterprise Forum", "the {brand} Leadership Symposium")
CONF_CITIES = ("Geneva", "Singapore", "Dubai", "London", "Monaco", "Hong Kong", "Milan", "Miami")
CONF_TOPICS = {
    "liquidity": "IPO markets and how founders turn shares into cash", "m_and_a": "cross-border takeovers and mergers",
    "legal_regulatory": "sanctions, fraud investigations and the new enforcement climate",
    "family_succession": "succession planning, inheritance and divorce in family businesses",
    "residence_tax": "tax residence, citizenship by investment and the migration of wealth",
    "philanthropy": "strategic philanthropy, donations and foundation governance",
    "large_purchase": "art, yachts, trophy homes and sports clubs as passion assets",
    "business_distress": "restructuring, insolvency and creditor rights", "leadership_change": "board renewal and founders who step down",
    "family_office_fund": "how to set up a family office and launch a first fund",
}

# --------------------------------------------------------------------------------------------------------------
# Event clauses. "<inf|past|pres|ger|pp> rest": one verb phrase in five forms. Flags: a = "has agreed to" frames,
# f = forward frames (set to / no plans to / should), h = may be dated years ago, s = "what if ... were to" frames.
# `noun` is a short name of the event for headlines ("{N} denies {noun} report").
# --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clause:
    text: str
    noun: str
    flags: str = "fhs"


C = Clause
CLAUSES: dict[str, list[Clause]] = {
    "liquidity": [
        C("<sell|sold|sells|selling|sold> a {pct} stake in {org} to {cp} for {amt}", "stake sale", "afhs"),
        C("<raise|raised|raises|raising|raised> {amt} by selling {org} shares in an overnight block trade", "block trade", "afhs"),
        C("<take|took|takes|taking|taken> {org} public on the {exch}, selling about {pct} of the company", "{org} listing"),
        C("<offload|offloaded|offloads|offloading|offloaded> {shares_n} shares in {org} at a discount to the market price", "share sale"),
        C("<pledge|pledged|pledges|pledging|pledged> most of {his} {org} shares as collateral for a {amt} margin loan from {bank}",
          "margin loan", "afhs"),
        C("<cash|cashed|cashes|cashing|cashed> out of {org}, selling {his} remaining {pct} holding to {fund}", "exit from {org}"),
        C("<pocket|pocketed|pockets|pocketing|pocketed> {amt} from a special dividend funded by new borrowing at {org}",
          "special dividend"),
        C("<extract|extracted|extracts|extracting|extracted> {amt} from {org} through a dividend recapitalisation arranged by {bank}",
          "dividend recap"),
        C("<agree|agreed|agrees|agreeing|agreed> a {amt} refinancing of {org} that returns {amt2} to {his} holding company",
          "refinancing payout"),
        C("<sell|sold|sells|selling|sold> down {his} holding in {org} through a {amt} secondary offering", "secondary offering", "afhs"),
        C("<float|floated|floats|floating|floated> a minority stake in {org} on the {exch}", "{org} flotation"),
        C("<dispose|disposed|disposes|disposing|disposed> of {pct} of {org} via an accelerated bookbuild run by {bank}",
          "accelerated bookbuild"),
        C("<borrow|borrowed|borrows|borrowing|borrowed> {amt} from a group of private banks against {his} shares in {org}",
          "share-backed loan", "afhs"),
        C("<realise|realised|realises|realising|realised> about {amt} from the sale of part of {his} stake in {org}",
          "partial stake sale"),
    ],
    "m_and_a": [
        C("<agree|agreed|agrees|agreeing|agreed> to sell {org} to {cp} for {amt}", "sale of {org}"),
        C("<be|was|is|being|been> in advanced talks to sell {org} to {cp}", "{org} sale talks", "hs"),
        C("<merge|merged|merges|merging|merged> {org} with {cp} in an all-share deal worth {amt}", "merger with {cp}", "afhs"),
        C("<buy|bought|buys|buying|bought> {target}, a {tsector} group, for {amt}", "{target} acquisition", "afhs"),
        C("<acquire|acquired|acquires|acquiring|acquired> a controlling stake in {target} from {cp}", "{target} deal", "afhs"),
        C("<hire|hired|hires|hiring|hired> {bank} to explore a sale of {org}", "sale of {org}"),
        C("<accept|accepted|accepts|accepting|accepted> a {amt} takeover offer for {org} from {cp}", "takeover of {org}"),
        C("<open|opened|opens|opening|opened> talks with {cp} about combining {org} with its {tsector} business", "{cp} merger talks"),
        C("<sign|signed|signs|signing|signed> a binding agreement to sell {org} to {fund}", "buyout of {org}"),
        C("<back|backed|backs|backing|backed> a {amt} buyout of {org} led by {fund}", "{org} buyout", "afhs"),
        C("<win|won|wins|winning|won> a bidding war for {target}, paying {amt}", "{target} takeover"),
        C("<take|took|takes|taking|taken> {target} private in a {amt} deal", "take-private of {target}", "afhs"),
        C("<launch|launched|launches|launching|launched> a hostile bid for {target}", "hostile bid"),
        C("<weigh|weighed|weighs|weighing|weighed> an offer from {cp} that would value {org} at {amt}", "{cp} offer"),
    ],
    "legal_regulatory": [
        C("<be charged|was charged|is charged|being charged|been charged> with fraud over {his} role at {org}", "fraud charges", "hs"),
        C("<be arrested|was arrested|is arrested|being arrested|been arrested> at the airport in {city} on suspicion of {offence}",
          "arrest", "hs"),
        C("<be detained|was detained|is detained|being detained|been detained> by {authority} as part of a {offence} inquiry",
          "detention", "hs"),
        C("<be sued|was sued|is sued|being sued|been sued> by {cp} for {amt} over {dispute}", "{cp} lawsuit", "hs"),
        C("<face|faced|faces|facing|faced> a tax investigation by {taxauth} over {his} offshore holdings", "tax investigation", "hs"),
        C("<be placed|was placed|is placed|being placed|been placed> under sanctions by {sanctioner}, which froze {his} assets",
          "sanctions", "hs"),
        C("<be fined|was fined|is fined|being fined|been fined> {amt} by {regulator} for {violation}", "fine", "hs"),
        C("<be accused|was accused|is accused|being accused|been accused> of fraud in a lawsuit filed by minority shareholders of {org}",
          "fraud lawsuit", "hs"),
        C("<be indicted|was indicted|is indicted|being indicted|been indicted> on {ncounts} counts of {offence}", "indictment", "hs"),
        C("<settle|settled|settles|settling|settled> a {amt} lawsuit brought by {cp}", "lawsuit settlement", "afhs"),
        C("<be questioned|was questioned|is questioned|being questioned|been questioned> by prosecutors in {city} over {offence} "
          "allegations", "questioning by prosecutors", "hs"),
        C("<lose|lost|loses|losing|lost> a {amt} arbitration case brought by {cp}", "arbitration defeat", "hs"),
        C("<be banned|was banned|is banned|being banned|been banned> from serving as a company director for {nyears} years by "
          "{regulator}", "director ban", "hs"),
        C("<have|had|has|having|had> {his} assets frozen by a court in {jurisdiction} at the request of {cp}", "asset freeze", "hs"),
    ],
    "family_succession": [
        C("<die|died|dies|dying|died> at the age of {age}", "death", ""),
        C("<be admitted|was admitted|is admitted|being admitted|been admitted> to hospital in {city} after suffering a stroke",
          "stroke", "hs"),
        C("<file|filed|files|filing|filed> for divorce from {spouse} of {nyears} years", "divorce"),
        C("<marry|married|marries|marrying|married> {fiance}, {fiance_desc}, in a private ceremony in {venue}", "wedding", "afhs"),
        C("<name|named|names|naming|named> {his} {child} {childname} as {his} successor at {org}", "succession at {org}"),
        C("<inherit|inherited|inherits|inheriting|inherited> control of {org2} after the death of {his} {parent}", "inheritance", "hs"),
        C("<be diagnosed|was diagnosed|is diagnosed|being diagnosed|been diagnosed> with a serious illness", "illness", "hs"),
        C("<be locked|was locked|is locked|being locked|been locked> in a court battle with {his} siblings over control of the "
          "family's stake in {org}", "heirs' dispute", "hs"),
        C("<transfer|transferred|transfers|transferring|transferred> control of {org} to a family trust for {his} {nchildren} children",
          "family trust"),
        C("<reach|reached|reaches|reaching|reached> a {amt} divorce settlement with {his} former {spouse_word}", "divorce settlement",
          "afhs"),
        C("<hand|handed|hands|handing|handed> the running of {org} to {his} {child}, {childname}", "handover to the next generation"),
        C("<challenge|challenged|challenges|challenging|challenged> {his} late father's will, which left control of {org} to a "
          "half-brother", "will dispute"),
        C("<undergo|underwent|undergoes|undergoing|undergone> emergency heart surgery in {city}", "heart surgery", "hs"),
        C("<set|set|sets|setting|set> out in a new will how {his} {worth} fortune will pass to {his} heirs", "new will"),
    ],
    "residence_tax": [
        C("<move|moved|moves|moving|moved> {his} tax residence from {from_c} to {to_c}", "tax move"),
        C("<become|became|becomes|becoming|become> a tax resident of {to_c}", "tax residency in {to_c}"),
        C("<acquire|acquired|acquires|acquiring|acquired> citizenship of {cbi_c} through its investment programme", "second passport"),
        C("<relocate|relocated|relocates|relocating|relocated> to {to_city} ahead of a planned wealth tax in {from_c}",
          "relocation to {to_city}"),
        C("<give|gave|gives|giving|given> up {his} {from_nat} citizenship", "citizenship switch"),
        C("<obtain|obtained|obtains|obtaining|obtained> a golden visa in {to_c} after investing {amt} in local property", "golden visa"),
        C("<shift|shifted|shifts|shifting|shifted> {his} domicile to {to_c}, taking {his} holding company with {him}", "domicile shift"),
        C("<apply|applied|applies|applying|applied> for residency in {to_c} under its lump-sum taxation regime", "residency application"),
        C("<leave|left|leaves|leaving|left> {from_c} for {to_c}, citing the country's new exit tax", "departure from {from_c}"),
        C("<register|registered|registers|registering|registered> {his} primary residence in {to_city}", "new residence"),
        C("<buy|bought|buys|buying|bought> citizenship of {cbi_c} for {amt} under a citizenship-by-investment scheme",
          "citizenship by investment"),
        C("<transfer|transferred|transfers|transferring|transferred> {his} residence and {his} family holding company to {to_c}",
          "move to {to_c}"),
        C("<take|took|takes|taking|taken> up residence in {to_city}, where {his} foreign income will be taxed at a flat rate",
          "flat-tax move"),
    ],
    "philanthropy": [
        C("<pledge|pledged|pledges|pledging|pledged> {amt} to {cause_org}", "pledge", "afhs"),
        C("<donate|donated|donates|donating|donated> {amt} to {institution} to fund {cause}", "donation", "afhs"),
        C("<set|set|sets|setting|set> up a charitable foundation with an endowment of {amt}", "foundation"),
        C("<give|gave|gives|giving|given> {amt} to {institution}, the largest gift in its history", "record gift"),
        C("<sign|signed|signs|signing|signed> the Giving Pledge, promising to give away most of {his} fortune", "Giving Pledge"),
        C("<endow|endowed|endows|endowing|endowed> a new professorship in {field} at {institution}", "endowed chair", "afhs"),
        C("<commit|committed|commits|committing|committed> {amt} over ten years to {cause}", "{cause} commitment"),
        C("<transfer|transferred|transfers|transferring|transferred> {pct} of {his} shares in {org} to a charitable trust", "share gift"),
        C("<fund|funded|funds|funding|funded> a {amt} hospital wing in {city}", "hospital gift", "afhs"),
        C("<announce|announced|announces|announcing|announced> a {amt} gift to {institution} for {cause}", "gift"),
        C("<launch|launched|launches|launching|launched> a {amt} scholarship fund for students from {city}", "scholarship fund"),
        C("<match|matched|matches|matching|matched> public donations to {cause_org} up to {amt}", "donation match", "afhs"),
        C("<underwrite|underwrote|underwrites|underwriting|underwritten> the {amt} restoration of {landmark}", "restoration gift",
          "afhs"),
    ],
    "large_purchase": [
        C("<buy|bought|buys|buying|bought> a {nbed}-bedroom mansion in {prime_area} for {amt}", "mansion purchase", "afhs"),
        C("<pay|paid|pays|paying|paid> a record {amt} for a penthouse in {prime_area}", "penthouse purchase"),
        C("<acquire|acquired|acquires|acquiring|acquired> {team}, the {league} football club, for {amt}", "{team} purchase", "afhs"),
        C("<buy|bought|buys|buying|bought> {artist}'s \"{artwork}\" at auction for {amt}", "art purchase"),
        C("<take|took|takes|taking|taken> delivery of a {yacht_m}-metre superyacht built by {shipyard}", "superyacht"),
        C("<order|ordered|orders|ordering|ordered> a {jet} private jet worth about {amt}", "private jet"),
        C("<purchase|purchased|purchases|purchasing|purchased> the {vineyard} wine estate in {wine_region}", "vineyard purchase", "afhs"),
        C("<snap|snapped|snaps|snapping|snapped> up a {hectares}-hectare country estate in {rural_area} for {amt}", "estate purchase"),
        C("<win|won|wins|winning|won> an auction for {artist}'s \"{artwork}\" with a bid of {amt}", "auction win"),
        C("<complete|completed|completes|completing|completed> the {amt} purchase of a villa on {coast}", "villa purchase"),
        C("<buy|bought|buys|buying|bought> a controlling stake in {team}", "{team} stake", "afhs"),
        C("<spend|spent|spends|spending|spent> {amt} on a chalet in {ski_resort}", "chalet purchase"),
        C("<commission|commissioned|commissions|commissioning|commissioned> a {yacht_m}-metre yacht from {shipyard} for an "
          "estimated {amt}", "yacht order"),
        C("<set|set|sets|setting|set> a price record for {prime_area} by paying {amt} for a townhouse", "record townhouse deal"),
    ],
    "business_distress": [
        C("<be hit|was hit|is hit|being hit|been hit> with a {amt} claim after banks called in {his} personal guarantees on loans "
          "to {org}", "guarantee claim", "hs"),
        C("<see|saw|sees|seeing|seen> {org} placed into receivership by its lenders", "receivership", "hs"),
        C("<file|filed|files|filing|filed> for insolvency protection for {org}", "insolvency filing"),
        C("<default|defaulted|defaults|defaulting|defaulted> on {amt} of loans secured against {his} stake in {org}", "loan default"),
        C("<face|faced|faces|facing|faced> a winding-up petition from creditors of {org}", "winding-up petition", "hs"),
        C("<be declared|was declared|is declared|being declared|been declared> personally bankrupt by a court in {city}", "bankruptcy",
          "hs"),
        C("<fail|failed|fails|failing|failed> to repay a {amt} loan from {bank} that was backed by {his} shares in {org}",
          "missed repayment", "hs"),
        C("<lose|lost|loses|losing|lost> control of {org} after creditors seized {his} pledged shares", "loss of control", "hs"),
        C("<put|put|puts|putting|put> {org} into administration after talks with lenders collapsed", "administration"),
        C("<be pursued|was pursued|is pursued|being pursued|been pursued> by {bank} for {amt} under a personal guarantee",
          "guarantee dispute", "hs"),
        C("<seek|sought|seeks|seeking|sought> court protection from creditors for {org}", "creditor protection"),
        C("<hand|handed|hands|handing|handed> {org} to its creditors in a debt-for-equity swap that wipes out {his} stake",
          "debt-for-equity swap", "afhs"),
        C("<have|had|has|having|had> {his} {asset} seized by creditors of {org}", "asset seizure", "hs"),
    ],
    "leadership_change": [
        C("<step|stepped|steps|stepping|stepped> down as chief executive of {org}", "exit as chief executive", "afhs"),
        C("<be appointed|was appointed|is appointed|being appointed|been appointed> chair of {org} after the retirement of {exec}",
          "chair appointment", "hs"),
        C("<be ousted|was ousted|is ousted|being ousted|been ousted> as chair of {org} after a board revolt", "ouster", "hs"),
        C("<resign|resigned|resigns|resigning|resigned> from the board of {org}", "resignation"),
        C("<join|joined|joins|joining|joined> the board of {cp} as a non-executive director", "board seat at {cp}", "afhs"),
        C("<be removed|was removed|is removed|being removed|been removed> as chief executive of {org} by shareholders", "removal", "hs"),
        C("<hand|handed|hands|handing|handed> over the chief executive role at {org} to {exec}, a former {cp} executive",
          "CEO handover", "afhs"),
        C("<return|returned|returns|returning|returned> as chief executive of {org}, replacing {exec}", "comeback", "afhs"),
        C("<take|took|takes|taking|taken> over as executive chair of {org}", "executive chair role", "afhs"),
        C("<give|gave|gives|giving|given> up {his} executive role at {org} to become non-executive chair", "role change", "afhs"),
        C("<be voted|was voted|is voted|being voted|been voted> off the board of {org} at a tense shareholder meeting",
          "boardroom defeat", "hs"),
        C("<quit|quit|quits|quitting|quit> as chair of {org} with immediate effect", "resignation as chair"),
        C("<lose|lost|loses|losing|lost> a boardroom battle for control of {org}", "boardroom battle", "hs"),
        C("<be named|was named|is named|being named|been named> president of {org}", "new role", "hs"),
    ],
    "family_office_fund": [
        C("<set|set|sets|setting|set> up a single-family office in {fo_city} to manage {his} {worth} fortune", "family office"),
        C("<launch|launched|launches|launching|launched> a {amt} venture capital fund focused on {theme}", "venture fund"),
        C("<open|opened|opens|opening|opened> a family office in {fo_city}, hiring {exec} from {bank} to run it", "family office"),
        C("<establish|established|establishes|establishing|established> a private investment firm, {fo_name}, with {amt} of {his} "
          "own money", "investment firm"),
        C("<hire|hired|hires|hiring|hired> {exec}, formerly of {bank}, as chief investment officer of {his} new family office",
          "family office hire", "afhs"),
        C("<seed|seeded|seeds|seeding|seeded> a new hedge fund run by {exec} with {amt}", "hedge fund", "afhs"),
        C("<move|moved|moves|moving|moved> {his} family office from {city} to {fo_city}", "family office move"),
        C("<raise|raised|raises|raising|raised> {amt} for {his} first private equity fund", "debut fund"),
        C("<register|registered|registers|registering|registered> a family office in {fo_city} under the city's tax incentive scheme",
          "family office registration"),
        C("<convert|converted|converts|converting|converted> {his} holding company into a multi-family office open to outside "
          "investors", "multi-family office"),
        C("<launch|launched|launches|launching|launched> an impact fund with {amt} from {his} family's fortune", "impact fund"),
        C("<form|formed|forms|forming|formed> {fo_name}, an investment vehicle that will back {theme} start-ups", "investment vehicle"),
        C("<create|created|creates|creating|created> a {amt} evergreen fund to invest in {theme}", "evergreen fund"),
    ],
}
# Clauses whose subject is the client's company, named with the client in apposition ("X, the group controlled by Y,").
ORG_CLAUSES: dict[str, list[Clause]] = {
    "liquidity": [C("<file|filed|files|filing|filed> for an initial public offering on the {exch} in which its founder will sell "
                    "shares", "IPO"),
                  C("<pay|paid|pays|paying|paid> its owner a {amt} special dividend funded by a new bond", "special dividend")],
    "m_and_a": [C("<agree|agreed|agrees|agreeing|agreed> to be acquired by {cp} for {amt}", "takeover by {cp}"),
                C("<be|was|is|being|been> in exclusive talks to merge with {cp}", "merger talks", "hs")],
    "business_distress": [C("<be placed|was placed|is placed|being placed|been placed> into receivership after missing a {amt} bond "
                            "payment", "receivership", "hs"),
                          C("<default|defaulted|defaults|defaulting|defaulted> on {amt} of bonds guaranteed by its owner",
                            "bond default", "hs")],
}
# amount ranges in USD millions per family (what {amt} means in that family's clauses)
AMOUNTS = {"liquidity": (40, 4000), "m_and_a": (100, 9000), "legal_regulatory": (2, 600), "family_succession": (20, 900),
           "residence_tax": (0.6, 6), "philanthropy": (2, 1500), "large_purchase": (8, 300), "business_distress": (20, 1500),
           "leadership_change": (10, 500), "family_office_fund": (50, 2000)}

# --------------------------------------------------------------------------------------------------------------
# Sentence frames. Tokens: <PAST> <PP> <INF> <PRES> = the clause in that form; <WHEN>; <ATTR> = attribution
# (suffix form), <ATTRP> = attribution (prefix form). {S}/{Sposs} = the sentence subject, {R} = the client,
# {O} = another person. Second element: flags the clause must have ("" = any).
# --------------------------------------------------------------------------------------------------------------
POS_FRAMES = [
    ("{S} <PAST> <WHEN>, <ATTR>.", ""), ("{S} has <PP>, <ATTR>.", ""), ("<ATTRP> {S} <PAST> <WHEN>.", ""),
    ("{S} has agreed to <INF>, <ATTR>.", "a"), ("{S} is set to <INF>, <ATTR>.", "f"), ("{S} is preparing to <INF>, <ATTR>.", "f"),
    ("{S}, {age}, <PAST> <WHEN>, <ATTR>.", ""),
]
STYLE_FRAMES = {
    "broadsheet": [("In a move that has surprised {city}'s business community, {S} has <PP>.", ""),
                   ("{S} has <PP>, bringing weeks of speculation to an end, <ATTR>.", "")],
    "trade": [("{S} has <PP>, {trade_pub} has learned.", ""), ("{S} <PAST> <WHEN>, sources told {trade_pub}.", "")],
    "local": [("{S} has <PP>, it emerged this week.", ""), ("{S}, one of {city}'s best-known business figures, has <PP>.", ""),
              ("{S}, who grew up in {city}, <PAST> <WHEN>, <ATTR>.", "")],
    "translated": [("As the newspaper {paper} reports, {S} has <PP>.", ""), ("According to informations of {paper}, {S} has <PP>.", ""),
                   ("{S} has <PP>. This was communicated by {org} on {weekday}.", ""),
                   ("The entrepreneur {S} wants to <INF>, as a spokesman confirmed on request.", "f"),
                   ("{S} has <PP>, as {paper} reports with reference to company circles.", "")],
}
NEG_FRAMES = [
    ("{S} has denied reports that {he} had <PP>.", ""),
    ("A spokesperson for {S} said {he} had not <PP>, calling the reports \"pure speculation\".", ""),
    ("{S} has no plans to <INF>, {his} office said <WHEN>.", "f"), ("{S} dismissed speculation that {he} would <INF>.", "f"),
    ("Reports that {S} had <PP> are untrue, {his} lawyer said <WHEN>.", ""),
    ("{S} has ruled out any move to <INF>, people close to {him} said.", "f"),
    ("Contrary to earlier reports, {S} has not <PP>, {his} office said.", ""),
]
NEG_FRAMES_TRANSLATED = [("The entrepreneur {S} has contradicted reports according to which {he} had <PP>.", ""),
                         ("{S} has not <PP>. This was made clear by a spokesman on request.", "")]
HIST_FRAMES = [
    ("In {hyear}, {S} <PAST>.", "h"), ("Back in {hyear}, {S} <PAST>, a move that {hist_comment}.", "h"),
    ("{S}, who <PAST> in {hyear}, said {he} had no regrets.", "h"), ("More than {nyears_ago} years ago, {S} <PAST>.", "h"),
    ("It is now {nyears_ago} years since {S} <PAST>.", "h"), ("The {hyear} episode, when {S} <PAST>, is still remembered in {city}.", "h"),
]
SPEC_FRAMES = [
    ("{S} should <INF>, argues {O}, a columnist for {paper}.", "f"), ("Is it time for {S} to <INF>?", "f"),
    ("Analysts have begun to ask what would happen if {S} were to <INF>.", "s"),
    ("It would make sense for {S} to <INF>, {O}, an analyst at {bank}, wrote in a note to clients.", "f"),
    ("Investors have long wondered whether {S} might one day <INF>.", "f"), ("Some in {city} believe {S} could eventually <INF>.", "s"),
    ("In my view, {S} ought to <INF>.", "f"), ("Imagine, for a moment, that {S} were to <INF>.", "s"),
]
WHEN = ("on {weekday}", "on {weekday}", "this week", "late on {weekday}", "earlier this month", "on {month} {day}", "")

# (suffix, prefix) attributions; the prefix form is followed directly by the subject
ATTRIB_GENERIC = [
    ("people familiar with the matter said", "People familiar with the matter said"),
    ("according to two people with knowledge of the matter", "According to two people with knowledge of the matter,"),
    ("{paper} reported", "{paper} reported that"), ("sources said", "Sources said"),
    ("a person close to {him} said", "A person close to {him} said"), ("according to a statement", "According to a statement,"),
]
ATTRIB = {
    "liquidity": [
        ("according to a filing with the {exch}", "According to a filing with the {exch},"),
        ("according to a term sheet seen by {paper}", "According to a term sheet seen by {paper},"),
        ("bankers working on the deal said", "Bankers working on the deal said"),
        ("the company confirmed", "The company confirmed that"),
    ],
    "m_and_a": [
        ("the companies said in a joint statement", "The companies said in a joint statement that"),
        ("people familiar with the talks said", "People familiar with the talks said"),
        ("{cp} confirmed", "{cp} confirmed that"),
    ],
    "legal_regulatory": [
        ("court documents show", "Court documents show that"),
        ("prosecutors said", "Prosecutors said"),
        ("according to a charge sheet seen by {paper}", "According to a charge sheet seen by {paper},"),
        ("{his} lawyer confirmed", "{his} lawyer confirmed that"),
    ],
    "family_succession": [
        ("the family said in a statement", "The family said in a statement that"),
        ("a spokesperson for the family said", "A spokesperson for the family said"),
        ("{org} confirmed", "{org} confirmed that"),
    ],
    "residence_tax": [
        ("according to corporate filings", "According to corporate filings,"),
        ("{paper} reported", "{paper} reported that"),
        ("according to registry records", "According to registry records,"),
    ],
    "philanthropy": [
        ("{institution} announced", "{institution} announced that"),
        ("according to a press release", "According to a press release,"),
        ("the foundation said", "The foundation said"),
    ],
    "large_purchase": [
        ("people involved in the sale said", "People involved in the sale said"),
        ("according to documents seen by {paper}", "According to documents seen by {paper},"),
        ("the seller's agent confirmed", "The seller's agent confirmed that"),
    ],
    "business_distress": [
        ("according to court filings", "According to court filings,"),
        ("creditors said", "Creditors said"),
        ("according to a notice published by the court in {city}", "According to a notice published by the court in {city},"),
    ],
    "leadership_change": [
        ("the company said in a statement", "The company said in a statement that"),
        ("according to a stock exchange filing", "According to a stock exchange filing,"),
        ("{org} announced", "{org} announced that"),
    ],
    "family_office_fund": [
        ("according to regulatory filings", "According to regulatory filings,"),
        ("people familiar with the plans said", "People familiar with the plans said"),
        ("according to a company registry filing", "According to a company registry filing,"),
    ],
}

# --------------------------------------------------------------------------------------------------------------
# Supporting sentences
# --------------------------------------------------------------------------------------------------------------
DETAILS = {
    "liquidity": ["The shares were priced at {price} each, a {disc} discount to the last close.",
                  "{bank} arranged the transaction, which drew strong demand from institutional investors.",
                  "After the transaction {S} will still own about {pct2} of {org}.",
                  "The proceeds will go to {Sposs} family holding company, {org2}.",
                  "{S} agreed to a lock-up of {ndays} days on the remaining shares.",
                  "{org} shares fell {drop} in early trading after the news."],
    "m_and_a": ["The price values {org} at about {multiple} times its annual operating profit.",
                "{bank} is advising {org}, while {bank2} is working with {cp}.",
                "A transaction is expected to close in the {quarter} quarter, subject to regulatory approval.",
                "{S} owns about {pct2} of {org} through {org2}.", "The combined group would have annual revenue of about {amt3}.",
                "{org} has grown rapidly under {Sposs} ownership."],
    "legal_regulatory": ["{S} denies any wrongdoing, {his} lawyer said.", "A first court hearing is scheduled for {month}.",
                         "The allegations relate to transactions at {org} between {y1} and {y2}.",
                         "The case could take years to resolve, lawyers said.", "{org} said it was cooperating fully with the authorities.",
                         "Shares in {org} fell {drop} on the news.", "The case is one of the largest of its kind in {country}."],
    "family_succession": ["{Sposs} family controls about {pct2} of {org} through {org2}.",
                          "The news raises questions about the future ownership of {org}.",
                          "{S} has {nchildren} children, two of whom work in the business.",
                          "{org} said its day-to-day operations would not be affected.", "{Sposs} fortune is estimated at {worth}."],
    "residence_tax": ["The move follows changes to the tax treatment of wealthy residents in {from_c}.",
                      "{S} is one of a growing number of wealthy {from_nat} citizens to relocate.",
                      "{Sposs} holding company, {org2}, will also move its seat, filings show.",
                      "Advisers say the change could save {S} tens of millions in tax each year.",
                      "{S} will continue to chair {org} from abroad."],
    "philanthropy": ["It is one of the largest gifts of its kind in {country}.", "The money will be paid out over {nyears} years.",
                     "{institution} said the gift would fund new positions and scholarships.",
                     "{Sposs} fortune is estimated at {worth}, much of it tied up in {org}.",
                     "The donation will be made through {Sposs} family foundation."],
    "large_purchase": ["The previous owner was {seller_desc}.", "The price is among the highest ever paid for an asset of its kind.",
                       "{S} is said to have outbid at least {nbidders} other buyers.",
                       "The purchase was made through a company registered in {offshore}.",
                       "Neither {S} nor the seller commented on the price."],
    "business_distress": ["{org} has debts of about {amt2}, according to the filing.", "About {emp} jobs are at risk.",
                          "{bank} is the largest creditor.",
                          "{Sposs} personal exposure could exceed {amt3}, according to people close to the creditors.",
                          "Shares in {org} were suspended from trading.",
                          "The company had been struggling with high interest costs and weak demand."],
    "leadership_change": ["{exec2} will serve as interim chief executive.", "The board said the search for a successor had begun.",
                          "The change takes effect at the end of {month}.", "Shares in {org} rose {drop} on the news.",
                          "{S} remains the company's largest shareholder with a stake of about {pct2}."],
    "family_office_fund": ["The office will be run by {exec2}, a former partner at {bank2}.",
                           "It will invest in {theme}, private credit and listed equities.",
                           "The vehicle has initial capital of about {amt2}, according to people familiar with it.",
                           "{S} is among a growing number of {country_adj} business owners to set up a dedicated investment office.",
                           "{S} will chair the investment committee."],
}
DETAILS_BUY = ["The price values {target} at about {multiple} times its annual operating profit.", "{bank} advised {S} on the acquisition.",
               "The purchase will be financed with cash and new debt, the people said.",
               "{target} will continue to operate under its own brand.", "It is the largest acquisition by {S} in more than a decade."]
QUOTES_POS = {
    "liquidity": "\"This sale allows me to diversify while remaining a committed shareholder,\" {S} said in a statement.",
    "m_and_a": "\"This is the right partner for the next chapter of {org},\" {S} said.",
    "legal_regulatory": "\"The accusations are baseless and will be contested in court,\" {his} lawyer said.",
    "family_succession": "\"The succession question has been hanging over {org} for years,\" said {analyst}, an analyst at {bank}.",
    "residence_tax": "\"It is a personal decision taken for family reasons,\" a spokesperson for {S} said.",
    "philanthropy": "\"I have been fortunate, and I want to give back,\" {S} said.",
    "large_purchase": "\"Buyers at this level do not blink at the price,\" said {analyst}, a broker who was not involved.",
    "business_distress": "\"We are working constructively with all stakeholders,\" {org} said in a statement.",
    "leadership_change": "\"Investors will want clarity on strategy quickly,\" said {analyst}, an analyst at {bank}.",
    "family_office_fund": "\"The aim is to professionalise how the family invests,\" said a person close to {S}.",
}
BACKGROUND = ["{S}, {age}, founded {org} in {year}.", "{S} built {org} into one of {country_poss} largest {sector_noun} groups.",
              "{Sposs} fortune is estimated at {worth} by {paper}.", "{org}, which {S} has led since {year}, employs about {emp} people.",
              "The {age}-year-old also controls {org2}.", "{S} is among the richest people in {country}.",
              "{S} rarely gives interviews and keeps a low profile in {city}."]
CLOSING = ["{S} did not respond to a request for comment.", "A spokesperson for {S} declined to comment.", "{org} declined to comment.",
           "Representatives for {S} did not immediately return calls seeking comment.",
           "{Sposs} office said {he} would make no further statement."]
FILLERS = ["Global equity markets have been choppy this year as investors weigh the outlook for interest rates.",
           "Deal activity in {region} has picked up after a slow start to the year.",
           "The {sector_noun} industry has been consolidating as margins come under pressure.",
           "Demand in the {sector_noun} sector has slowed in recent quarters.",
           "Bankers say wealthy families are reviewing their holdings ahead of expected tax changes.",
           "The benchmark index in {country} is up {drop} so far this year.",
           "Private banks have been competing hard for the business of the very rich.",
           "Higher borrowing costs have weighed on valuations across the sector.",
           "Analysts expect the {sector_noun} market to grow by about {growth} a year until the end of the decade.",
           "Several rivals have announced job cuts this year.",
           "Regulators in {country} have tightened disclosure rules for large shareholders.",
           "Competition from lower-cost rivals has intensified.",
           "Family-controlled companies account for a large share of the {country_adj} stock market.",
           "Wealth managers report record inflows from entrepreneurs this year.",
           "Interest in the sector from private equity firms has been growing.",
           "Consumer confidence remains weak in {country}.",
           "Energy costs have eased from their peak but remain a burden for industrial groups.",
           "The number of billionaires in {region} has risen sharply over the past decade.",
           "Currency swings have made cross-border valuations harder to agree."]
SCENES = ["It has been an eventful year for one of {country_poss} most private business dynasties.",
          "{ccity}'s business community has been watching {corg} closely for months.",
          "The {sector_noun} industry has rarely seen a week like this one.",
          "For much of the past decade, {corg} has been run much like a family fiefdom."]
LOCAL_COLOUR = ["The news was the talk of {ccity} this week, where {corg} employs about {emp} people.",
                "Local officials said they hoped the development would not affect jobs in the region.",
                "{corg} is one of the largest employers in the region.",
                "The council leader said the company remained an important part of the local economy."]
TRANSLATED_CONFIRM = ["This was confirmed by a spokesman of {org} on request.",
                      "The company communicated this on {weekday} in a short statement.",
                      "Further details were not made known."]
NEUTRAL_EXTRA = {"broadsheet": SCENES, "local": LOCAL_COLOUR[1:],
                 "translated": ["Further details were not made known.", "A spokesman did not want to comment further on request."]}

# headlines: {N} = the client as written in this headline (full name, surname or descriptor)
GENERIC_HEADLINES = {
    "liquidity": ["{N} cashes in on {org} stake", "{N} turns part of {org} fortune into cash"],
    "m_and_a": ["{org} deal set to reshape {N}'s fortune", "{N} moves on {org} deal"],
    "legal_regulatory": ["Legal troubles mount for {N}", "Fresh legal blow for {N}"],
    "family_succession": ["What the news about {N} means for the {org} dynasty", "Family turning point for {N}"],
    "residence_tax": ["{N} packs up for a new tax home", "Tax exile: {N} on the move"],
    "philanthropy": ["{N} in landmark donation", "{N} gives big"],
    "large_purchase": ["{N} splashes out", "{N} adds trophy asset"],
    "business_distress": ["Creditors close in on {N}", "Debt crisis engulfs {N}'s {org}"],
    "leadership_change": ["Shake-up at the top of {org} as {N} changes role", "Boardroom change at {org} puts {N} in focus"],
    "family_office_fund": ["{N} builds private investment arm", "{N} joins family office boom"],
}
NEG_HEADLINES = {
    "negated_or_denied": [("{N} denies {noun} report", ""), ("{N} rules out {noun}", "f"), ("{N}'s office rejects report of {noun}", ""),
                          ("No {noun}, says {N}", "f"), ("{N} dismisses {noun} speculation", ""),
                           ("Report of {noun} untrue, says {N}'s lawyer", "")],
    "speculative_opinion": [("Is a {noun} next for {N}?", "f"), ("Opinion: the case for a {noun}", "f"),
    ("Why {N} should consider a {noun}", "f"),
                            ("Thinking the unthinkable: {N} and the {noun}", ""), ("What if? {N} and the {noun}", "")],
}
HOOKS = [("{S} will receive an honorary doctorate from {institution} next month.", "{N} to receive honorary doctorate"),
         ("{S} has published a memoir about {his} career in {sector_noun}.", "{N} publishes memoir"),
         ("{S} marked the {anniv}th anniversary of {org} with a reception for employees in {city} on {weekday}.",
          "{org} marks {anniv} years"),
         ("{S} spoke to {paper} this week about {his} early years in business.", "Interview: {N} on {anniv} years in {sector_noun}"),
         ("{S} was inducted into the {country_adj} Business Hall of Fame this week.", "{N} inducted into business hall of fame"),
         ("{S} gave a lecture to students at {institution} on {weekday}.", "{N} tells students to take risks"),
         ("A new documentary about {org} features long interviews with {S}.", "Documentary charts rise of {org}")]
HIST_HEADLINES = ["The {hyear} {noun} that shaped {N}", "Looking back: {N} and the {noun} of {hyear}"]
RELATIONS = ["{O} is a long-time rival of {R}, whose {corg} competes in the same market.",
             "{R}, who sits on the board of {institution} alongside {O}, was not involved.",
             "{O} and {R} are neighbours in {prime_area}.",
             "The move puts {O} ahead of {R} in {paper}'s ranking of the richest people in {country}.",
             "{R}, a close friend of {O}, declined to comment.", "{O} once worked under {R} at {corg} before setting up on {his} own.",
             "{R}, whose {corg} has competed with {O} for years, was not involved in the matter."]
SPEC_SUPPORT = ["There is no indication that {S} is planning such a step, and {his} office declined to comment.",
                "The idea is not new: commentators have floated it for years.", "For now, {S} appears content to stay the course.",
                "Nothing has been decided, and people close to {S} say the subject has not been discussed.",
                "{S} has given no public sign of wanting to change course."]
DENIAL_SUPPORT = ["{paper} had reported on {weekday} that {S} had <PP>.",
                  "\"There is no truth whatsoever in these reports,\" {his} spokesperson said.",
                  "Shares in {org} moved sharply after the initial report before settling.", "{paper} said it stood by its reporting.",
                  "{S} has made similar denials in the past."]
HIST_SUPPORT = ["Since then, {org} has grown to about {emp} employees.",
                "{S} now spends much of {his} time on the company's long-term strategy.",
                "The episode is described at length in a new book about the company.", "Much has changed at {org} since those days."]
# company_market_story
COMPANY_LEADS = [("Shares in {corg} {moved} {drop} on {weekday} after the company reported {result}.",
                 "{corg} shares {moved_head} after results"),
                 ("{corg} said on {weekday} it would open a new {facility} in {ccity}, creating about {newjobs} jobs.",
                  "{corg} to open new {facility} in {ccity}"),
                 ("{corg} reported a {drop} rise in annual revenue, helped by strong demand in {region}.",
                  "{corg} revenue climbs on {region} demand"),
                 ("{corg} has won a {amt} contract from {cp}, the company said on {weekday}.", "{corg} wins {amt} contract"),
                 ("Analysts at {bank} raised their rating on {corg} to buy, citing stronger cash flow.", "{bank} upgrades {corg}")]
FAM_MARKET = {
    "liquidity": ["Bankers say the pipeline of IPOs and block trades in the {sector_noun} sector is the busiest in years.",
                  "Several founders in the industry have sold stakes this year to take advantage of high valuations.",
                  "{cp} priced its initial public offering last month at the top of the range."],
    "m_and_a": ["The sector has seen a wave of takeovers, with {cp} agreeing to buy {target} last month.",
                "Analysts expect further consolidation, and private equity firms have been circling smaller rivals."],
    "legal_regulatory": ["Regulators have opened an investigation into pricing practices across the {sector_noun} industry.",
                         "A rival, {target}, was fined {amt} last year for breaching competition rules."],
    "family_succession": ["Many of the sector's family-owned companies face succession questions as their founders age.",
                          "At {target}, a feud between heirs over an inheritance has dragged on for years."],
    "residence_tax": ["A number of executives in the industry have moved their tax residence to {to_c} in recent years.",
                      "Changes to wealth taxes in {country} have prompted some business owners to consider leaving."],
    "philanthropy": ["The company's charitable foundation donated {amt} to schools in {ccity} last year.",
                     "{corg} has pledged to give a share of its profits to community projects."],
    "large_purchase": ["{corg} bought a new headquarters building in {ccity} last year.",
                       "Executives in the industry have been among the most active buyers of prime property in {prime_area}."],
    "business_distress": ["A supplier, {target}, filed for insolvency last week, but {corg} said its exposure was limited.",
                          "Rising defaults among smaller rivals have unsettled investors."],
    "leadership_change": ["{corg} appointed {exec} as chief financial officer, replacing {exec2}, who is retiring.",
                          "The company also named two new independent directors to its board."],
    "family_office_fund": ["Family offices have become increasingly active investors in the {sector_noun} sector, according to {bank}.",
                           "{target}, a rival, received backing from a family office this year."],
}
CLIENT_IN_COMPANY = ["{corg} was founded by {R} in {year}.", "{R}, who founded {corg}, owns about {pct2} of the company.",
                     "The company is controlled by {R} and {his} family.", "{R}, the chair, did not attend the results presentation.",
                     "{R} remains chair and the largest shareholder."]
# passing_mention: (headline, lead) per family; the client only appears in PASSING
TOPICS = {
    "liquidity": [
        ("IPO market in {region} shows signs of life",
         "Initial public offerings in {region} raised {amt} in the first half, the most in three years."),
        ("{country_adj} founders cash out as valuations soar",
         "Company founders have sold shares worth {amt} through block trades this year, according to {bank}."),
        ("Share-backed lending booms, says {bank}",
         "Private banks have sharply increased loans secured against clients' shares, according to {bank}."),
    ],
    "m_and_a": [
        ("Takeover wave hits {sector_noun}", "Mergers and acquisitions in the {sector_noun} industry have reached {amt} this year."),
        ("Private equity circles {country_adj} family firms",
         "Buyout firms are increasingly targeting family-owned companies, advisers say."),
    ],
    "legal_regulatory": [
        ("{country} steps up tax scrutiny of the wealthy",
         "Tax investigators in {country} opened more cases against high earners last year."),
        ("Sanctions enforcement tightens as frozen assets reach {amt}",
         "Authorities froze assets worth {amt} under sanctions rules last year."),
    ],
    "family_succession": [
        ("{country_adj} family businesses face succession crunch",
         "Nearly half of family businesses in {country} have no succession plan, a survey by {bank} found."),
        ("{ccity} divorce lawyers see boom in big-money cases",
         "Divorce settlements among the very wealthy have grown larger, lawyers say."),
    ],
    "residence_tax": [
        ("Millionaires on the move as {to_c} draws the wealthy",
         "Thousands of millionaires moved their tax residence last year, with {to_c} the most popular destination."),
        ("Golden visa demand surges among {country_adj} investors",
         "Applications for citizenship-by-investment programmes rose sharply, according to advisers."),
    ],
    "philanthropy": [
        ("Giving by the rich in {country} hits record", "Donations by wealthy individuals in {country} rose to {amt} last year."),
        ("{country_adj} foundations shift to climate", "Large private foundations are redirecting grants towards climate projects."),
    ],
    "large_purchase": [
        ("Prime property prices hit record in {prime_area}", "Homes in {prime_area} sold for record prices last year, agents say."),
        ("Superyacht orders at all-time high, says {shipyard}", "Shipyards reported record orders for yachts over 60 metres this year."),
        ("Contemporary art sales fall {drop}", "Auction sales of contemporary art fell {drop} in the first half."),
    ],
    "business_distress": [
        ("Insolvencies climb among mid-sized {country_adj} firms",
         "Corporate insolvencies in {country} rose {drop} in the latest quarter."),
        ("Banks in {country} call in owners' guarantees",
         "Lenders are increasingly calling in personal guarantees from company owners, lawyers say."),
    ],
    "leadership_change": [
        ("Founder CEOs step back earlier, {bank} study finds",
         "Founders are handing over the chief executive role earlier than in the past, a study by {bank} found."),
        ("Boardroom turnover in {country} hits record",
         "Chief executive departures at listed companies in {country} reached a record last year."),
    ],
    "family_office_fund": [
        ("Family offices multiply in {fo_city}", "The number of single-family offices in {fo_city} has doubled in five years."),
        ("Family offices pile into {theme} venture funds", "Family offices launched a record number of venture funds this year."),
    ],
}
PASSING = ["{ccity} is also home to {R}, the founder of {corg}.",
           "Among the wealthiest residents of {ccity} is {R}, whose fortune is estimated at {worth}.",
           "Shares in companies such as {Rposs} {corg} have outperformed the market.",
           "The trend is visible in {ccity}, where {R} and other business owners employ thousands.",
           "Rankings of {country_poss} richest people are topped by figures such as {R}.",
           "The report was presented at an event in {ccity} attended by executives including {R}."]
ADVISER_QUOTE = ["\"We have never been busier,\" said {analyst}, an adviser at {bank}.",
                 "\"Clients want to be prepared,\" said {analyst}, who heads the private clients team at {bank}."]
QUOTES_CLIENT = {
    "liquidity": ("\"Valuations are high, so it is no surprise that founders are selling,\" said {R}, the founder of {corg}, who was not "
    "involved.",
                  "valuations justify founder sales"),
    "m_and_a": ("\"Consolidation in this industry was inevitable,\" said {R}, chair of {corg}.", "industry consolidation inevitable"),
    "legal_regulatory": ("\"Cases like this damage trust in the whole sector,\" said {R}, whose company {corg} is not involved.",
                         "cases damage trust in sector"),
    "family_succession": ("\"Every family business has to confront succession sooner or later,\" said {R}, who runs {corg}.",
                          "succession must be faced"),
    "residence_tax": ("\"People go where they are welcome,\" {R}, the {sector_noun} entrepreneur, said at an event in {ccity}.",
                      "wealthy go where they are welcome"),
    "philanthropy": ("\"Giving should be strategic, not just generous,\" said {R}, who attended the announcement.",
    "giving should be strategic"),
    "large_purchase": ("\"Trophy assets always find a buyer,\" said {R}, who was asked about the sale at an industry dinner.",
                       "trophy assets always find buyers"),
    "business_distress": ("\"Lenders have become much less patient,\" said {R}, whose {corg} is one of the region's largest employers.",
                          "lenders have lost patience"),
    "leadership_change": ("\"Boards today expect founders to let go earlier,\" said {R}, the founder of {corg}.",
    "boards want founders to let go"),
    "family_office_fund": ("\"The family office model is not for everyone,\" said {R}.", "family offices not for everyone"),
}
# guest_list: (headline, lead, detail) of another person's event, all in that family's vocabulary
GUEST_EVENTS = {
    "liquidity": [
        ("{oorg} makes stock market debut",
         "{O} rang the opening bell on {weekday} as {oorg} began trading in {ocity} after an IPO that raised {amt}.",
         "{O} sold about {pct} of the company in the offering."),
    ],
    "m_and_a": [
        ("{OFull} celebrates completion of {target} takeover",
         "{O} hosted a dinner in {ocity} on {weekday} to mark the completion of {his} {amt} takeover of {target}.",
         "The deal was agreed after months of talks."),
    ],
    "legal_regulatory": [
        ("Supporters rally round {OFull} before trial",
         "Friends and business associates gathered in {ocity} for a fundraiser for {O}, who faces fraud charges.",
         "{O} denies the charges, which carry a prison sentence of up to {nyears} years."),
    ],
    "family_succession": [
        ("{OFull} marries in {venue}",
         "{O} married {fiance}, {fiance_desc}, in a lavish ceremony in {venue} on Saturday.",
         "The celebrations lasted three days."),
        ("Mourners gather for funeral of {OFull}",
         "{O}, the {tsector} pioneer who died last week at the age of {oage}, was buried in {ocity} on {weekday}.",
         "{O} had handed the running of {oorg} to {his} children years earlier."),
    ],
    "residence_tax": [
        ("{OFull} throws party at new home in {to_city}",
         "{O}, who moved {his} tax residence to {to_c} this year, hosted a party at {his} new home in {to_city}.",
         "The move followed changes to wealth taxes at home."),
    ],
    "philanthropy": [
        ("Gala raises {amt} for {cause}",
         "A charity gala hosted by {O} in {ocity} on Saturday raised {amt} for {cause}.",
         "{O} pledged a further {amt2} at the end of the evening."),
    ],
    "large_purchase": [
        ("{OFull} christens new superyacht",
         "{O} took delivery of a {yacht_m}-metre superyacht from {shipyard} at a ceremony on {coast}.",
         "The yacht is said to have cost about {amt}."),
        ("Collectors flock to record {artist} sale",
         "{O} paid {amt} for {artist}'s \"{artwork}\" at an evening sale in {ocity}.",
         "It was the highest price of the season."),
    ],
    "business_distress": [
        ("Assets of collapsed {oorg} go under the hammer",
         "Assets of {oorg}, which collapsed into insolvency this year, were auctioned in {ocity} on {weekday}.",
         "Creditors of the company are owed about {amt}."),
    ],
    "leadership_change": [
        ("Farewell for {OFull} after {anniv} years at {oorg}",
         "{O} stepped down as chief executive of {oorg} this week after {anniv} years, marking the occasion with a dinner in {ocity}.",
         "{exec} takes over as chief executive next month."),
    ],
    "family_office_fund": [
        ("{OFull} launches family office in {fo_city}",
         "{O} marked the launch of {his} new single-family office in {fo_city} with a reception on {weekday}.",
         "The office will manage about {amt} of family money."),
    ],
}
GUEST_FRAMES = ["Guests included {guests}.", "Among those attending were {guests}.", "The guest list featured {guests}.",
                "Spotted in the crowd: {guests}."]
CONF_LEADS = ["{conf} will take place in {conf_city} on {month} {day}, with a focus on {topic}.",
              "More than {ndelegates} delegates are expected at {conf} in {conf_city} next week to discuss {topic}.",
              "This year's edition of {conf}, which opens in {conf_city} on {weekday}, is devoted to {topic}."]
CONF_SPEAKER = ["Speakers include {speakers}.", "{R} will deliver the keynote address.",
                "{R}, the founder of {corg}, is among the panellists.",
                "A panel featuring {R} and {O} will close the first day."]
CONF_HEADLINES = ["{conf} to focus on {topic_short}", "{N} to speak at {conf}",
                  "{topic_short} in focus as business leaders gather in {conf_city}"]
CONF_TOPIC_SHORT = {"liquidity": "IPOs and founder exits", "m_and_a": "takeovers", "legal_regulatory": "sanctions and fraud",
                    "family_succession": "succession and inheritance", "residence_tax": "wealth migration", "philanthropy": "philanthropy",
                    "large_purchase": "passion assets", "business_distress": "insolvency", "leadership_change": "founder exits",
                    "family_office_fund": "family offices"}
CONF_DETAILS = ["Organisers said tickets had sold out weeks in advance.",
                "The programme also includes sessions on geopolitics and interest rates.",
                "Attendance is by invitation only, and most sessions are closed to the press.",
                "It is the first time the event has been held in {conf_city}."]
ORGANISER_QUOTE = "\"These are the questions every family we work with is asking,\" said {analyst}, the organiser."


# --------------------------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Person:
    full: str
    first: str
    surname: str
    gender: str
    culture: str
    country: str
    city: str
    org: str = ""
    org2: str = ""
    sector: str = "logistics"
    age: int = 60
    founded: int = 1990
    title: str = ""
    aliases: tuple[str, ...] = ()
    cid: str = ""


def make_name(rng: random.Random, culture: str, gender: str) -> tuple[str, str, str, tuple[str, ...]]:
    "(full, first, surname, aliases) for one person of `culture`."
    c = CULTURES[culture]
    first = rng.choice(c[gender].split())
    sur = rng.choice(c["surnames"].split())
    if c["order"] == "family_given":
        return f"{sur} {first}", first, sur, (f"{first} {sur}",)
    if c["order"] == "two_surnames" and rng.random() < 0.7:
        sur2 = rng.choice([s for s in c["surnames"].split() if s != sur])
        return f"{first} {sur} {sur2}", first, sur, (f"{first} {sur}",)
    if c["order"] == "middle_surname" and rng.random() < 0.7:
        mid = rng.choice([s for s in c["surnames"].split() if s != sur])
        return f"{first} {mid} {sur}", first, sur, (f"{first} {sur}",)
    aliases: tuple[str, ...] = ()
    if sur.startswith("Al-"):
        aliases = (f"{first} {sur[3:]}",)
    elif culture == "japanese":
        aliases = (f"{sur} {first}",)
    return f"{first} {sur}", first, sur, aliases


def make_people(rng: random.Random) -> tuple[list[Person], list[Person]]:
    "The client book (N_CLIENTS, ids TRN-0001...) and a pool of other people (never a client's full name)."
    cultures = list(CULTURES)
    clients: list[Person] = []
    names: set[str] = set()
    orgs: set[str] = set()
    surname_use: collections.Counter[str] = collections.Counter()
    i = 0
    while len(clients) < N_CLIENTS:
        culture = cultures[i % len(cultures)]
        i += 1
        while True:
            gender = "female" if rng.random() < 0.35 else "male"
            full, first, sur, aliases = make_name(rng, culture, gender)
            if full not in names and surname_use[sur] < 3:
                break
        country, city = rng.choice(CULTURES[culture]["places"])
        sector = rng.choice(list(SECTORS))
        while True:
            base = sur if rng.random() < 0.6 else rng.choice(BRANDS)
            org = f"{base} {SECTORS[sector][0]}"
            org2 = rng.choice([f"{sur} Holdings", f"{sur} Family Investments", f"{rng.choice(BRANDS)} Group", f"{sur} Beteiligungen"
                               if culture == "german" else f"{sur} Investments"])
            if org not in orgs and org2 not in orgs:
                break
        orgs.update((org, org2))
        names.add(full)
        surname_use[sur] += 1
        age = rng.randint(44, 86)
        title = "Dr" if rng.random() < 0.1 else ("Ms" if gender == "female" else "Mr")
        clients.append(Person(full, first, sur, gender, culture, country, city, org, org2, sector, age,
                              rng.randint(max(1965, 2024 - age + 22), 2008), title, aliases, f"TRN-{len(clients) + 1:04d}"))
    others: list[Person] = []
    while len(others) < 700:
        culture = rng.choice(cultures)
        gender = "female" if rng.random() < 0.4 else "male"
        full, first, sur, _ = make_name(rng, culture, gender)
        if full in names:
            continue
        names.add(full)
        country, city = rng.choice(CULTURES[culture]["places"])
        sector = rng.choice(list(SECTORS))
        org = f"{rng.choice(BRANDS)} {SECTORS[sector][0]}"
        others.append(Person(full, first, sur, gender, culture, country, city, org, f"{sur} Holdings", sector, rng.randint(40, 85),
                             rng.randint(1975, 2012), "Ms" if gender == "female" else "Mr"))
    return clients, others


# --------------------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------------------
def money(usd_m: float, cur: str, style: str, rng: random.Random) -> str:
    "An amount of `usd_m` million US dollars written in `cur`, in the conventions of `style`."
    sym, suffix, rate, words = CURRENCIES[cur]
    v = usd_m * rate
    if cur == "INR" and v >= 100 and rng.random() < 0.5:
        crore = v / 10
        return f"Rs {round(crore, -2 if crore >= 1000 else -1 if crore >= 100 else 0):,.0f} crore"
    num, unit = (v / 1e6, "trillion") if v >= 1e6 else (v / 1000, "billion") if v >= 1000 else (v, "million")
    n = f"{num:.1f}".rstrip("0").rstrip(".") if num < 10 else str(int(round(num))) if num < 100 else str(int(round(num / 5) * 5))
    if style == "translated":
        return f"{cur} {n} {unit}" if cur in ("EUR", "USD", "CHF", "GBP") else f"{n} {unit} {words}"
    if style in ("broadsheet", "trade") and sym and not sym.endswith(" "):
        return f"{sym}{n}{ {'million': 'm', 'billion': 'bn', 'trillion': 'tn'}[unit] }"
    return f"{sym}{n} {unit}{suffix}"


def share_price(usd: float, cur: str) -> str:
    sym, suffix, rate, _ = CURRENCIES[cur]
    v = usd * rate
    n = f"{v:,.2f}" if v < 1000 else f"{round(v):,}"
    return f"{sym}{n}" if sym else f"{n}{suffix}"


def percent(value: float, style: str, rng: random.Random) -> str:
    v = f"{value:.1f}".rstrip("0").rstrip(".")
    if style == "translated":
        return f"{v} percent"
    if style == "broadsheet" and rng.random() < 0.5:
        return f"{v} per cent"
    return f"{v}%"


def forms(clause_text: str) -> dict[str, str]:
    "The five verb forms of a clause: {'INF': 'sell a ...', 'PAST': 'sold a ...', ...}."
    m = re.match(r"<([^>]*)>(.*)$", clause_text, re.S)
    parts = m.group(1).split("|")
    return {k: v + m.group(2) for k, v in zip(("INF", "PAST", "PRES", "GER", "PP"), parts, strict=True)}


class Namer:
    "How a person is referred to, mention by mention: the first body mention is decided by `mode`, later ones by style."
    LEAD_DESC = ("the founder of {org}", "one of {country_poss} richest entrepreneurs", "a {city} billionaire",
                 "the {sector_noun} magnate behind {org}")
    DESC = ("the billionaire", "the {sector_noun} tycoon", "the {age}-year-old", "the {org} founder")

    def __init__(self, p: Person, style: str, mode: str, rng: random.Random, is_client: bool = True):
        self.p, self.style, self.rng, self.is_client = p, style, rng, is_client
        self.queue = {"lead": ["full"], "later": ["lead_desc", "full"], "headline_only": ["hdesc"]}[mode]
        self.reveal_due = False

    def pending_desc(self) -> bool:
        return bool(self.queue) and self.queue[0] == "lead_desc"

    def take(self) -> str:
        if self.queue:
            form = self.queue.pop(0)
        elif not self.is_client:
            form = "sur" if self.style in ("wire", "trade") or self.rng.random() < 0.4 else "hon"
        else:
            form = self.rng.choice({"wire": ["sur"] * 4 + ["desc"], "trade": ["sur"] * 4 + ["desc"], "broadsheet": ["hon"] * 4 + ["desc"],
                                    "local": ["hon", "hon", "sur", "desc"], "translated": ["hon"] * 3 + ["desc", "entre"]}[self.style])
        p = self.p
        if form == "full":
            return p.full
        if form == "sur":
            return p.surname
        if form == "hon":
            dot = "." if self.style in ("translated", "local") else ""
            return f"{p.title}{dot} {p.surname}"
        if form == "lead_desc":
            self.reveal_due = True
            return self.rng.choice(self.LEAD_DESC)
        if form == "hdesc":
            return self.rng.choice(("the {org} founder", p.surname, f"{p.title} {p.surname}" if self.style == "broadsheet" else p.surname))
        if form == "entre":
            return "the entrepreneur"
        return self.rng.choice(self.DESC)


class Article:
    "Slot values and name references for one article; `render` fills {slots} and <TOKENS> in templates."
    SLOT = re.compile(r"\{(\w+)\}")

    def __init__(self, rng: random.Random, style: str, family: str, client: Person, other: Person, mode: str, people: list[Person]):
        self.rng, self.style, self.family, self.client, self.other, self.people = rng, style, family, client, other, people
        self.values: dict[str, str] = {}
        self.subject = "client"
        self.namers = {"client": Namer(client, style, mode, rng), "other": Namer(other, style, "lead", rng, is_client=False)}
        local = COUNTRIES[client.country][3]
        self.cur = local if rng.random() < 0.6 else "USD"
        self.org_first = True
        self.dateline = client.city

    # ---- people ------------------------------------------------------------------------------------------
    def person(self, subject: str) -> Person:
        return self.client if subject in ("client", "org") else self.other

    def stranger(self, gender: str | None = None) -> Person:
        "Someone from the pool who shares no name token with the client or the other person in this article."
        taken = set(self.client.full.split()) | set(self.other.full.split()) | set(self.values.get("_used", "").split("|"))
        while True:
            p = self.rng.choice(self.people)
            if (gender is None or p.gender == gender) and not (set(p.full.split()) & taken):
                self.values["_used"] = self.values.get("_used", "") + "|" + "|".join(p.full.split())
                return p

    def subject_ref(self, subject: str) -> str:
        if subject == "org":
            c = self.namers["client"]
            if self.org_first:
                self.org_first = False
                if c.pending_desc():
                    c.queue.pop(0)
                    c.reveal_due = True
                    return f"{self.client.org}, the {{sector_noun}} group controlled by one of {{country_poss}} richest families,"
                return f"{self.client.org}, the {{sector_noun}} group controlled by {{R}},"
            return self.rng.choice((self.client.org, "the company"))
        return self.namers[subject].take()

    # ---- slots -------------------------------------------------------------------------------------------
    def get(self, key: str) -> str:
        subj = self.subject
        p = self.person(subj)
        it = subj == "org"
        fem = p.gender == "female"
        country = COUNTRIES[p.country]
        direct = {
            "S": lambda: self.subject_ref(subj), "Sposs": lambda: self.subject_ref(subj).rstrip(",") + "'s",
            "R": lambda: self.namers["client"].take(), "Rposs": lambda: self.namers["client"].take() + "'s",
            "O": lambda: self.namers["other"].take(),
            "he": lambda: "it" if it else "she" if fem else "he", "his": lambda: "its" if it else "her" if fem else "his",
            "him": lambda: "it" if it else "her" if fem else "him", "org": lambda: p.org, "org2": lambda: p.org2, "city": lambda: p.city,
            "country": lambda: country[0], "country_adj": lambda: country[1], "country_poss": lambda: country[2],
            "region": lambda: country[4],
            "exch": lambda: country[5], "from_c": lambda: country[0], "from_nat": lambda: country[1], "age": lambda: str(p.age),
            "year": lambda: str(p.founded), "anniv": lambda: str(max(5, (2025 - p.founded) // 5 * 5)),
            "sector_noun": lambda: SECTORS[p.sector][1],
            "spouse": lambda: "her husband" if fem else "his wife", "spouse_word": lambda: "husband" if fem else "wife",
            "corg": lambda: self.client.org, "ccity": lambda: self.client.city, "oorg": lambda: self.other.org,
            "ocity": lambda: self.other.city, "oage": lambda: str(self.other.age), "OFull": lambda: self.other.full,
        }
        if key in direct:
            return self.render(direct[key]())
        if key not in self.values:
            self.values[key] = self.render(self.make(key))
        return self.values[key]

    def make(self, key: str) -> str:
        "A fresh value for slot `key` (cached by `get` for the rest of the article)."
        rng, style = self.rng, self.style
        amt_lo, amt_hi = AMOUNTS[self.family]
        pick = rng.choice

        def amount(lo: float, hi: float) -> str:
            return money(lo * (hi / lo) ** rng.random(), self.cur, style, rng)

        makers = {
            "amt": lambda: amount(amt_lo, amt_hi), "amt2": lambda: amount(amt_lo, amt_hi), "amt3": lambda: amount(amt_lo, amt_hi * 2),
            "worth": lambda: amount(600, 30000), "pct": lambda: percent(rng.choice([rng.randint(3, 49), rng.uniform(2, 30)]), style, rng),
            "pct2": lambda: percent(rng.randint(5, 70), style, rng), "drop": lambda: percent(rng.uniform(0.8, 14), style, rng),
            "disc": lambda: percent(rng.uniform(1.5, 9), style, rng), "growth": lambda: percent(rng.uniform(2, 8), style, rng),
            "shares_n": lambda: f"{rng.randint(2, 90)} million",
            "price": lambda: share_price(rng.uniform(4, 250), self.cur),
            "ndays": lambda: pick(("90", "180", "365")), "month": lambda: pick(MONTHS), "day": lambda: str(rng.randint(1, 28)),
            "weekday": lambda: pick(WEEKDAYS), "paper": lambda: pick(PAPERS), "trade_pub": lambda: pick(TRADE_PUBS),
            "quarter": lambda: pick(("first", "second", "third", "fourth")), "cp": lambda: f"{pick(BRANDS)} {pick(CO_SUFFIX)}",
            "fund": lambda: f"{pick(BRANDS)} {pick(FUND_SUFFIX)}", "bank": lambda: pick(BANKS),
            "bank2": lambda: pick([b for b in BANKS if b != self.values.get("bank")]),
            "target": lambda: f"{pick(BRANDS)} {SECTORS[pick(list(SECTORS))][0]}", "tsector": lambda: SECTORS[pick(list(SECTORS))][1],
            "brand": lambda: pick(BRANDS), "offence": lambda: pick(OFFENCES), "authority": lambda: pick(AUTHORITIES),
            "taxauth": lambda: pick(TAXAUTHS), "sanctioner": lambda: pick(SANCTIONERS), "jurisdiction": lambda: pick(JURISDICTIONS),
            "regulator": lambda: pick(REGULATORS), "violation": lambda: pick(VIOLATIONS), "dispute": lambda: pick(DISPUTES),
            "ncounts": lambda: pick(("three", "four", "five", "seven", "eleven")), "nyears": lambda: str(rng.randint(3, 30)),
            "fiance": lambda: self.stranger("male" if self.person(self.subject).gender == "female" else "female").full,
            "fiance_desc": lambda: pick(FIANCE_DESC), "venue": lambda: pick(VENUES), "parent": lambda: pick(("father", "mother")),
            "nchildren": lambda: pick(("three", "four", "five")), "cbi_c": lambda: pick(CBI),
            "institution": lambda: pick(INSTITUTIONS), "cause": lambda: pick(CAUSES), "cause_org": lambda: pick(CAUSE_ORGS),
            "field": lambda: pick(FIELDS), "landmark": lambda: pick(LANDMARKS), "nbed": lambda: str(rng.randint(5, 14)),
            "prime_area": lambda: pick(PRIME_AREAS), "team": lambda: pick(TEAMS), "league": lambda: pick(LEAGUES),
            "artist": lambda: pick(ARTISTS), "artwork": lambda: pick(ARTWORKS), "yacht_m": lambda: str(rng.randint(45, 120)),
            "shipyard": lambda: pick(SHIPYARDS), "jet": lambda: pick(JETS), "vineyard": lambda: pick(VINEYARDS),
            "wine_region": lambda: pick(WINE_REGIONS), "hectares": lambda: str(rng.randint(40, 900)),
            "rural_area": lambda: pick(RURAL_AREAS),
            "coast": lambda: pick(COASTS), "ski_resort": lambda: pick(SKI_RESORTS), "asset": lambda: pick(SEIZED_ASSETS),
            "exec": lambda: self.stranger().full, "exec2": lambda: self.stranger().full, "analyst": lambda: self.stranger().full,
            "theme": lambda: pick(THEMES),
            "fo_name": lambda: f"{pick(BRANDS)} {pick(('Capital', 'Ventures', 'Partners', 'Family Capital'))}",
            "hist_comment": lambda: pick(HIST_COMMENTS), "multiple": lambda: str(rng.randint(7, 22)),
            "newjobs": lambda: str(rng.randint(4, 80) * 25),
            "emp": lambda: f"{rng.choice([rng.randint(3, 60) * 100, rng.randint(2, 40) * 1000]):,}",
            "y1": lambda: str(rng.randint(2012, 2017)), "y2": lambda: str(rng.randint(2018, 2023)),
            "nbidders": lambda: pick(("two", "three", "four")),
            "seller_desc": lambda: pick(SELLER_DESCS), "offshore": lambda: pick(OFFSHORE), "facility": lambda: pick(FACILITIES),
            "result": lambda: pick(RESULTS), "ndelegates": lambda: str(rng.randint(3, 12) * 100), "conf_city": lambda: pick(CONF_CITIES),
            "conf": lambda: pick(CONFERENCES), "topic": lambda: CONF_TOPICS[self.family],
            "topic_short": lambda: CONF_TOPIC_SHORT[self.family],
            "agency": lambda: pick(AGENCIES),
        }
        if key in makers:
            return makers[key]()
        if key in ("to_c", "to_city"):
            home = COUNTRIES[self.client.country][0]
            self.values["to_c"], self.values["to_city"] = pick([d for d in DESTINATIONS if d[0] != home])
            return self.values[key]
        if key in ("hyear", "nyears_ago"):
            hyear = rng.randint(max(1986, self.client.founded + 2), 2014)
            ago = 2025 - hyear
            self.values.update(hyear=str(hyear), nyears_ago=str(ago))
            return self.values[key]
        if key == "fo_city":
            return pick([c for c in FO_CITIES if c != self.person(self.subject).city])
        if key in ("child", "childname"):
            child = pick(("son", "daughter"))
            c = CULTURES[self.client.culture]
            first = pick(c["male" if child == "son" else "female"].split())
            while first == self.client.first:
                first = pick(c["male" if child == "son" else "female"].split())
            sur = self.client.surname
            self.values["child"] = child
            self.values["childname"] = f"{sur} {first}" if c["order"] == "family_given" else f"{first} {sur}"
            return self.values[key]
        if key in ("moved", "moved_head"):
            up = rng.random() < 0.5
            self.values["moved"], self.values["moved_head"] = ("rose", "rise") if up else ("fell", "slide")
            return self.values[key]
        if key == "when":
            return pick(WHEN)
        raise KeyError(key)

    def render(self, template: str, subject: str | None = None) -> str:
        prev = self.subject
        if subject is not None:
            self.subject = subject
        try:
            out = template
            for _ in range(4):  # slot values may themselves contain slots
                if "{" not in out:
                    break
                out = self.SLOT.sub(lambda m: self.get(m.group(1)), out)
            return out
        finally:
            self.subject = prev

    def sentence(self, template: str, subject: str = "client") -> str:
        s = tidy(self.render(template, subject))
        return s[0].upper() + s[1:] if s and s[0].islower() else (s[0] + s[1].upper() + s[2:] if s[:1] == "\"" and len(s) > 1 else s)


def tidy(s: str) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r" ([,.?])", r"\1", s)
    s = re.sub(r",([,.])", r"\1", s)
    s = re.sub(r"(\d+)-year-old, \1,", r"\1-year-old", s)
    s = re.sub(r"\b([Aa]) (?=(?:8|1[18](?![\d]))[\d.,]*(?:[ %]|\b))", r"\1n ", s)
    s = re.sub(r"\b([Aa]) (?=(?:EUR|USD|Rs|AED|HK\$|NT\$|S\$) (?:8|1[18](?![\d])))", r"\1n ", s)
    return s


def fill_frame(frame: str, clause: Clause, attrib: tuple[str, str], when: str) -> str:
    "A sentence frame with the clause forms, attribution and time phrase substituted (slots still open)."
    out = frame
    for k, v in forms(clause.text).items():
        out = out.replace(f"<{k}>", v)
    return out.replace("<ATTRP>", attrib[1]).replace("<ATTR>", attrib[0]).replace("<WHEN>", when)


def frames_for(frames: list[tuple[str, str]], clause: Clause) -> list[str]:
    return [f for f, need in frames if all(flag in clause.flags for flag in need)]


def details_for(family: str, clause: Clause) -> list[str]:
    "Detail sentences that fit the clause (buying a company has its own)."
    return DETAILS_BUY if family == "m_and_a" and "{target}" in clause.text else DETAILS[family]


def attribution(art: Article, family: str) -> tuple[str, str]:
    if art.style == "translated":
        return art.rng.choice([("as the newspaper {paper} reports", "As the newspaper {paper} reports,"),
                               ("as was communicated by {org}", "As was communicated by {org},"),
                               ("according to informations of {paper}", "According to informations of {paper},")])
    return art.rng.choice(ATTRIB[family] if art.rng.random() < 0.55 else ATTRIB_GENERIC)


# --------------------------------------------------------------------------------------------------------------
# Article builders. Each returns (headline, ordered list of (template, subject)).
# --------------------------------------------------------------------------------------------------------------
Piece = tuple[str, str]


def headline_name(art: Article, mode: str) -> str:
    c = art.client
    if mode == "later" or (mode == "lead" and art.rng.random() < 0.2):
        return art.rng.choice(("{corg} founder", "{country_adj} {sector_noun} tycoon", "{ccity} billionaire", "{sector_noun} magnate"))
    if mode == "headline_only" or art.rng.random() < 0.6:
        return c.full
    return c.surname if art.style != "broadsheet" else f"{c.title} {c.surname}"


def arrange(art: Article, lead: list[Piece], support: list[Piece], background: list[Piece], context: list[Piece],
            closing: list[Piece], extra: list[Piece]) -> list[Piece]:
    "Sentence order per style (with some randomness)."
    rng, style = art.rng, art.style
    if rng.random() < 0.3:
        support, background = background, support
    if style == "wire":
        return lead + support[:1] + closing + support[1:] + background + context
    if style == "broadsheet":
        return (extra + lead if rng.random() < 0.5 else lead + extra) + support + background + context + closing
    if style == "trade":
        return lead + context[:1] + support + background + closing + context[1:]
    if style == "local":
        return lead + extra + background + support + closing
    return lead + extra + support + background + context


REVEAL = ["{R}, {age}, founded {org} in {year}.", "{R} built {org} into one of {country_poss} largest {sector_noun} groups.",
          "The {sector_noun} entrepreneur in question is {R}, who controls {org} and {org2}.", "{R} has run {org} since {year}."]


def finish(art: Article, headline: str, pieces: list[Piece]) -> tuple[str, str]:
    """Render headline and body; wire copy gets a dateline, and wire headlines an occasional UPDATE/EXCLUSIVE tag.
    When the lead only described the client ("the founder of ..."), the next sentence names them in full."""
    rng = art.rng
    head = art.sentence(headline).rstrip(".")
    if art.style == "wire" and rng.random() < 0.25:
        head = rng.choice(("UPDATE 1-", "EXCLUSIVE-", "UPDATE 2-")) + head
    namer = art.namers["client"]
    sents = []
    for t, s in pieces:
        sents.append(art.sentence(t, s))
        if namer.reveal_due and namer.queue == ["full"]:
            namer.reveal_due = False
            sents.append(art.sentence(rng.choice(REVEAL), "client"))
    body = " ".join(x for x in sents if x)
    if art.style == "wire":
        body = art.render(f"{art.dateline.upper()}, {{month}} {{day}} ({{agency}}) - ") + body
    return head, body


def sample(rng: random.Random, xs: list[str], k: int) -> list[str]:
    return rng.sample(xs, min(k, len(xs)))


def pos_article(art: Article, mode: str) -> tuple[str, str]:
    rng, fam, style = art.rng, art.family, art.style
    use_org = fam in ORG_CLAUSES and rng.random() < 0.2
    clause = rng.choice(ORG_CLAUSES[fam] if use_org else CLAUSES[fam])
    subj = "org" if use_org else "client"
    frames = frames_for(POS_FRAMES, clause)
    if style in STYLE_FRAMES and rng.random() < 0.5:
        frames = frames_for(STYLE_FRAMES[style], clause) or frames
    if use_org or mode == "later":
        frames = [f for f in frames if "{S}," not in f] or frames_for(POS_FRAMES[:3], clause)
    frame = rng.choice(frames)
    lead = [(fill_frame(frame, clause, attribution(art, fam), rng.choice(WHEN)), subj)]
    support = [(t, "client") for t in sample(rng, details_for(fam, clause), rng.randint(1, 3))]
    if rng.random() < 0.35:
        support.insert(rng.randint(0, len(support)), (QUOTES_POS[fam], "client"))
    background = [(t, "client") for t in sample(rng, BACKGROUND, rng.randint(1, 2))]
    context = [(t, "client") for t in sample(rng, FILLERS, rng.randint(0, 2))]
    closing = [(rng.choice(CLOSING), "client")] if rng.random() < 0.6 else []
    confirm = [t for t in TRANSLATED_CONFIRM if not ("communicated" in lead[0][0] and "communicated" in t)]
    extra = {"broadsheet": [(rng.choice(SCENES), "client")], "local": [(rng.choice(LOCAL_COLOUR), "client")],
             "translated": [(rng.choice(confirm), "client")]}.get(style, [])
    n = headline_name(art, mode)
    r = rng.random()
    if r < 0.6:
        pres = forms(clause.text)["PRES"]
        headline = f"{n}'s {{corg}} {pres}" if use_org else f"{n} {pres}"
    elif r < 0.8 and not use_org and re.search(r"set to|preparing to|agreed to|wants to", frame):
        headline = f"{n} {rng.choice(('to', 'set to', 'plans to'))} {forms(clause.text)['INF']}"
    else:
        headline = rng.choice(GENERIC_HEADLINES[fam]).replace("{N}", n)
    art.values["N"] = n
    headline = art.render(headline, subj if not use_org else "client")
    return finish(art, headline, arrange(art, lead, support, background, context, closing, extra))


def client_subject_negative(art: Article, kind: str, mode: str) -> tuple[str, str]:
    "negated_or_denied, history, speculative_opinion: the client is the subject, but the event is not a current fact."
    rng, fam, style = art.rng, art.family, art.style
    if kind == "negated_or_denied":
        pool = NEG_FRAMES + (NEG_FRAMES_TRANSLATED if style == "translated" else [])
        clause = rng.choice(CLAUSES[fam])
    elif kind == "history":
        pool = HIST_FRAMES
        clause = rng.choice([c for c in CLAUSES[fam] if "h" in c.flags])
    else:
        pool = SPEC_FRAMES
        clause = rng.choice([c for c in CLAUSES[fam] if "f" in c.flags or "s" in c.flags])
    frame = rng.choice(frames_for(pool, clause))
    main = (fill_frame(frame, clause, attribution(art, fam), rng.choice(WHEN)), "client")
    n = headline_name(art, mode)
    noun = clause.noun
    background = [(t, "client") for t in sample(rng, BACKGROUND, rng.randint(1, 2))]
    context = [(t, "client") for t in sample(rng, FILLERS, rng.randint(0, 2))]
    closing = [(rng.choice(CLOSING), "client")] if rng.random() < 0.5 else []
    extra = [(rng.choice(NEUTRAL_EXTRA[style]), "client")] if style in NEUTRAL_EXTRA and rng.random() < 0.6 else []
    if kind == "negated_or_denied":
        lead = [main]
        support = [(fill_frame(t, clause, ("", ""), ""), "client") for t in sample(rng, DENIAL_SUPPORT, rng.randint(1, 2))]
        headline = rng.choice(frames_for(NEG_HEADLINES[kind], clause))
    elif kind == "history":
        hook, hook_head = rng.choice(HOOKS)
        lead = [(hook, "client")]
        support = [main] + [(t, "client") for t in sample(rng, HIST_SUPPORT, rng.randint(0, 2))]
        headline = hook_head if rng.random() < 0.7 else rng.choice(HIST_HEADLINES)
    else:
        lead = [main]
        support = [(t, "client") for t in sample(rng, SPEC_SUPPORT, rng.randint(1, 2))]
        headline = rng.choice(frames_for(NEG_HEADLINES[kind], clause))
        if rng.random() < 0.3 and "f" in clause.flags:
            headline = f"Why {{N}} should {forms(clause.text)['INF']}"
    if mode == "headline_only" and "{N}" not in headline:
        headline = rng.choice(HIST_HEADLINES if kind == "history" else [h for h in frames_for(NEG_HEADLINES[kind], clause) if "{N}" in h])
    headline = headline.replace("{N}", n).replace("{noun}", noun)
    return finish(art, art.render(headline), arrange(art, lead, support, background, context, closing, extra))


def other_person_negative(art: Article) -> tuple[str, str]:
    "The event happens to someone else; the client is a rival, neighbour, friend or board colleague."
    rng, fam = art.rng, art.family
    clause = rng.choice(CLAUSES[fam])
    frame = rng.choice(frames_for(POS_FRAMES, clause))
    lead = [(fill_frame(frame, clause, attribution(art, fam), rng.choice(WHEN)), "other")]
    art.dateline = art.other.city
    support = [(t, "other") for t in sample(rng, details_for(fam, clause), rng.randint(1, 2))]
    support.insert(rng.randint(0, len(support)), (rng.choice(RELATIONS), "other"))
    if rng.random() < 0.4:
        support.append((rng.choice(RELATIONS), "other"))
    background = [(rng.choice(BACKGROUND), "other")]
    context = [(t, "client") for t in sample(rng, FILLERS, rng.randint(0, 2))]
    closing = [(rng.choice(CLOSING), "other")] if rng.random() < 0.5 else []
    pres = forms(clause.text)["PRES"]
    c = art.client
    r = rng.random()
    headline = (f"{art.other.full} {pres}" if r < 0.6 else f"{c.full}'s rival {art.other.surname} {pres}" if r < 0.8
                else f"{c.surname} rival {art.other.full} {pres}")
    return finish(art, art.render(headline, "other"), arrange(art, lead, support, background, context, closing, []))


def company_market_negative(art: Article) -> tuple[str, str]:
    "A story about the client's company or its market, using the family's vocabulary; the client is only its founder/owner."
    rng, fam, c = art.rng, art.family, art.client
    lead_t, head = rng.choice(COMPANY_LEADS)
    support = [(t, "client") for t in sample(rng, FAM_MARKET[fam], rng.randint(1, 2))]
    support.insert(rng.randint(0, len(support)), (rng.choice(CLIENT_IN_COMPANY), "client"))
    context = padding(art, (1, 3), 0.4)
    if rng.random() < 0.3:
        head = head.replace("{corg}", f"{c.full}'s {{corg}}", 1)
    pieces = [(lead_t, "client")] + support + context
    if rng.random() < 0.4:
        pieces.append(("{corg} declined to comment on the outlook.", "client"))
    return finish(art, art.render(head), pieces)


def padding(art: Article, fillers: tuple[int, int], p_background: float, subject: str = "client") -> list[Piece]:
    "Context sentences for the negatives whose event is not the client's: fillers, and sometimes the client's background."
    rng = art.rng
    out = [(t, subject) for t in sample(rng, FILLERS, rng.randint(*fillers))]
    if rng.random() < p_background:
        out.insert(rng.randint(0, len(out)), (rng.choice(BACKGROUND), "client"))
    return out


def passing_negative(art: Article) -> tuple[str, str]:
    "A trend or market story in the family's vocabulary; the client only appears in passing."
    rng, fam = art.rng, art.family
    head, lead_t = rng.choice(TOPICS[fam])
    support = [(t, "client") for t in sample(rng, FAM_MARKET[fam], 1)] + [(rng.choice(ADVISER_QUOTE), "client")]
    rng.shuffle(support)
    pieces = [(lead_t, "client")] + support
    pieces.insert(rng.randint(2, len(pieces)), (rng.choice(PASSING), "client"))
    pieces += padding(art, (1, 3), 0.5)
    return finish(art, art.render(head), pieces)


def quote_negative(art: Article) -> tuple[str, str]:
    "Another person's event or a trend; the client is quoted commenting on it."
    rng, fam = art.rng, art.family
    quote, quote_head = QUOTES_CLIENT[fam]
    if rng.random() < 0.5:
        clause = rng.choice(CLAUSES[fam])
        frame = rng.choice(frames_for(POS_FRAMES, clause))
        pieces = [(fill_frame(frame, clause, attribution(art, fam), rng.choice(WHEN)), "other")]
        pieces += [(t, "other") for t in sample(rng, details_for(fam, clause), 1)]
        head = f"{art.other.full} {forms(clause.text)['PRES']}"
        subj = "other"
        art.dateline = art.other.city
    else:
        head, lead_t = rng.choice(TOPICS[fam])
        pieces = [(lead_t, "client")] + [(t, "client") for t in sample(rng, FAM_MARKET[fam], 1)]
        subj = "client"
    pieces.insert(rng.randint(1, len(pieces)), (quote, "client"))
    pieces += padding(art, (1, 2), 0.5)
    if rng.random() < 0.4:
        head, subj = f"{art.client.full} says {quote_head}", "client"
    return finish(art, art.render(head, subj), pieces)


def guest_list_negative(art: Article) -> tuple[str, str]:
    "Another person's wedding/gala/listing/funeral...; the client is one name in the guest list."
    rng, fam = art.rng, art.family
    head, lead_t, detail = rng.choice(GUEST_EVENTS[fam])
    art.dateline = art.other.city
    guests = [d.replace("{p}", art.stranger().full) for d in rng.sample(GUEST_DESCS, rng.randint(2, 4))]
    guests.insert(rng.randint(0, len(guests)), rng.choice(("{R}", "{R}, the founder of {corg},", "the {sector_noun} entrepreneur {R}")))
    glist = ", ".join(guests[:-1]) + " and " + guests[-1]
    pieces = [(lead_t, "other"), (detail, "other"), (rng.choice(GUEST_FRAMES).replace("{guests}", glist), "client")]
    pieces += padding(art, (1, 2), 0.4, "other")
    if rng.random() < 0.35:
        head = ("{N} among guests at f" + head[1:] if head.startswith("Farewell") else "{N} among guests as " + head[0].lower() + head[1:]
                if head.split()[0] in ("Gala", "Mourners", "Supporters", "Collectors", "Assets") else "{N} among guests as " + head)
        head = head.replace("{N}", art.client.full)
    return finish(art, art.render(head, "other"), pieces)


def conference_negative(art: Article) -> tuple[str, str]:
    "A conference on the family's topic; the client is a speaker or panellist."
    rng, fam = art.rng, art.family
    art.dateline = art.render("{conf_city}")
    speakers = [f"{art.stranger().full} of {{bank}}", f"{art.stranger().full}, chair of {{cp}}"]
    speakers.insert(rng.randint(0, 2), "{R}, the founder of {corg},")
    spk = rng.choice(CONF_SPEAKER).replace("{speakers}", ", ".join(speakers[:-1]) + " and " + speakers[-1])
    pieces = [(rng.choice(CONF_LEADS), "client"), (spk, "client")]
    pieces += [(t, "client") for t in sample(rng, FAM_MARKET[fam], 1)]
    if rng.random() < 0.5:
        pieces.append((ORGANISER_QUOTE, "client"))
    if rng.random() < 0.7:
        pieces.insert(1, (rng.choice(CONF_DETAILS), "client"))
    pieces += padding(art, (1, 2), 0.5)
    head = rng.choice(CONF_HEADLINES).replace("{N}", art.client.full)
    return finish(art, art.render(head), pieces)


NEG_BUILDERS = {"other_person_event": other_person_negative, "company_market_story": company_market_negative,
                "passing_mention": passing_negative, "quote_unrelated": quote_negative, "guest_list": guest_list_negative,
                "conference_speaker": conference_negative}


# --------------------------------------------------------------------------------------------------------------
# The data set
# --------------------------------------------------------------------------------------------------------------
def name_position(full: str, headline: str, body: str) -> str:
    "Where the full name first appears: the first body sentence (lead), later in the body, or only in the headline."
    if full not in body:
        return "headline_only"
    first = re.split(r"(?<=[.?!\"])\s+(?=[A-Z\"])", body, maxsplit=1)[0]
    return "lead" if full in first else "later"


def balanced(rng: random.Random, values: tuple[str, ...], n: int) -> list[str]:
    out = [values[i % len(values)] for i in range(n)]
    rng.shuffle(out)
    return out


def generate(seed: int = SEED) -> tuple[list[Person], list[dict]]:
    rng = random.Random(seed)
    clients, others = make_people(rng)
    order = clients[:]
    rng.shuffle(order)
    k = 0

    def next_client() -> Person:
        nonlocal k
        k += 1
        return order[(k - 1) % len(order)]

    def other_for(c: Person) -> Person:
        while True:
            o = rng.choice(others)
            if not (set(o.full.split()) & set(c.full.split())) and o.org != c.org:
                return o

    rows = []
    for fam in FAMILIES:
        modes = rng.choices(("lead", "later", "headline_only"), weights=(0.55, 0.27, 0.18), k=POS_PER_FAMILY)
        for style, mode in zip(balanced(rng, STYLES, POS_PER_FAMILY), modes, strict=True):
            c = next_client()
            art = Article(rng, style, fam, c, other_for(c), mode, others)
            head, body = pos_article(art, mode)
            rows.append(dict(client_id=c.cid, headline=head, body=body, label=1, event_type=fam, negative_kind="", style=style,
                             story_type=fam, name_position=name_position(c.full, head, body)))
    per_kind = [NEG_TOTAL // len(NEG_KINDS) + (i < NEG_TOTAL % len(NEG_KINDS)) for i in range(len(NEG_KINDS))]
    for kind, n in zip(NEG_KINDS, per_kind, strict=True):
        for fam, style in zip(balanced(rng, FAMILIES, n), balanced(rng, STYLES, n), strict=True):
            c = next_client()
            if kind in ("negated_or_denied", "history", "speculative_opinion"):
                mode = rng.choices(("lead", "later", "headline_only"), weights=(0.6, 0.25, 0.15))[0]
                art = Article(rng, style, fam, c, other_for(c), mode, others)
                head, body = client_subject_negative(art, kind, mode)
            else:
                mode = "lead"
                art = Article(rng, style, fam, c, other_for(c), mode, others)
                head, body = NEG_BUILDERS[kind](art)
            rows.append(dict(client_id=c.cid, headline=head, body=body, label=0, event_type="other", negative_kind=kind, style=style,
                             story_type=fam, name_position=name_position(c.full, head, body)))
    rng.shuffle(rows)
    keys = ("article_id", "client_id", "headline", "body", "label", "event_type", "negative_kind", "style", "story_type", "name_position")
    out = []
    for i, r in enumerate(rows, 1):
        r["article_id"] = f"trn-{i:06d}"
        out.append({k: r[k] for k in keys})
    return clients, out


# --------------------------------------------------------------------------------------------------------------
# Checks, output
# --------------------------------------------------------------------------------------------------------------
def skeleton(text: str) -> str:
    "The text with capitalised words and numbers masked: identical skeletons = same template path with other fillers."
    return re.sub(r"\b[A-ZÀ-Þ][\w'’-]*|\d[\d.,]*", "X", text)


def check(clients: list[Person], rows: list[dict]) -> dict:
    "Assert the set's invariants; return statistics for the README."
    by_id = {c.cid: c for c in clients}
    assert len(by_id) == len(clients) == N_CLIENTS
    assert len({c.full for c in clients}) == len(clients), "duplicate client names"
    assert all(len(c.full.split()) >= 2 for c in clients)
    ids = [r["article_id"] for r in rows]
    assert len(set(ids)) == len(ids), "duplicate article ids"
    for r in rows:
        c = by_id[r["client_id"]]
        assert c.full in r["headline"] or c.full in r["body"], (r["article_id"], c.full)
        assert "{" not in r["headline"] + r["body"] and "<" not in r["headline"] + r["body"], r["article_id"]
        assert (r["label"] == 1) == (r["event_type"] in FAMILIES) and (r["label"] == 0) == (r["negative_kind"] in NEG_KINDS)
        assert r["style"] in STYLES
    pos = [r for r in rows if r["label"] == 1]
    neg = [r for r in rows if r["label"] == 0]
    bodies = collections.Counter(r["body"] for r in rows)
    skel = collections.Counter(skeleton(r["body"]) for r in rows)
    stats = dict(
        rows=len(rows), positives=len(pos), negatives=len(neg), clients=len(clients),
        clients_used=len({r["client_id"] for r in rows}),
        per_family=collections.Counter(r["event_type"] for r in pos), per_kind=collections.Counter(r["negative_kind"] for r in neg),
        per_style=collections.Counter((r["style"], r["label"]) for r in rows),
        per_position=collections.Counter((r["name_position"], r["label"]) for r in rows),
        per_culture=collections.Counter(c.culture for c in clients),
        dup_bodies=sum(n - 1 for n in bodies.values() if n > 1) / len(rows),
        dup_skeletons=sum(n - 1 for n in skel.values() if n > 1) / len(rows),
        name_in_headline=sum(by_id[r["client_id"]].full in r["headline"] for r in rows) / len(rows),
        name_only_in_headline=sum(by_id[r["client_id"]].full not in r["body"] for r in rows),
        by_label={lab: (sum(by_id[r["client_id"]].full in r["headline"] for r in rs) / len(rs),
                        sorted(len(r["body"]) for r in rs)[len(rs) // 2]) for lab, rs in ((1, pos), (0, neg))},
    )
    assert stats["dup_bodies"] < 0.05, stats["dup_bodies"]
    return stats


def write(out: Path, clients: list[Person], rows: list[dict], stats: dict, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "clients.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["client_id", "full_name", "aliases", "organizations", "city", "country"])
        for c in clients:
            w.writerow([c.cid, c.full, "|".join(c.aliases), f"{c.org}|{c.org2}", c.city, c.country])
    with open(out / "labels.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    (out / "README.md").write_text(readme(stats, seed), encoding="utf-8")


def table(counter: dict, header: str) -> str:
    return f"| {header} | n |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in sorted(counter.items()))


def readme(s: dict, seed: int) -> str:
    styles = {st: (s["per_style"].get((st, 1), 0), s["per_style"].get((st, 0), 0)) for st in STYLES}
    pos_tab = "| position of the client's name | positives | negatives |\n|---|---|---|\n" + "".join(
        f"| {p} | {s['per_position'].get((p, 1), 0)} | {s['per_position'].get((p, 0), 0)} |\n" for p in ("lead", "later", "headline_only"))
    clauses = "".join(f"\n- {f}: {len(CLAUSES[f])}" + (f" + {len(ORG_CLAUSES[f])} with the company as subject" if f in ORG_CLAUSES else "")
                      for f in FAMILIES)
    return f"""# Relevance training set v2 (synthetic)

Training pairs for the news-relevance model: is this article about a **wealth event whose subject is the client**
(alert the RM), or is the client only mentioned (no alert)?

Generated by `tests/data/make_relevance_train.py` (standard library only):

    python tests/data/make_relevance_train.py --seed {seed}

Seed {seed}; the output is byte-identical for a given seed (a few seconds to generate). Do not edit the files by hand;
change the generator and regenerate.

## Files

- `clients.csv` — {s['clients']} fictional clients `TRN-0001`…`TRN-{s['clients']:04d}`:
  `client_id,full_name,aliases,organizations,city,country` (aliases and organizations `|`-separated). Names come from
  small name banks for 13 cultures (Anglo, German, French, Italian, Spanish, Indian, Arab, Chinese, Japanese, Korean,
  Nigerian, Brazilian, Nordic); every name has two or more tokens, full names are unique, and no name token is a
  common English word.
- `labels.jsonl` — {s['rows']} pairs, one JSON object per line:
  `article_id` (`trn-000001`…), `client_id`, `headline`, `body`, `label` (1 = alert), `event_type` (the family for
  positives, `"other"` for negatives, as in `jobs/seeds/relevance`), `negative_kind` (`""` for positives), `style`,
  plus two descriptive fields: `story_type` (the event family whose vocabulary the article uses — for negatives too)
  and `name_position` (where the client's full name first appears: `lead` = first body sentence, `later`, or
  `headline_only`).
  The client's full name appears verbatim in every headline or body.

## Taxonomy

Positives (`label` 1, `event_type`):

| event_type | events |
|---|---|
| liquidity | stake sale, IPO, secondary, block trade, dividend recap, refinancing paying the owner, share pledge / margin loan |
| m_and_a | client's company sold / merged / acquired or in (advanced) talks; client buying a company |
| legal_regulatory | charges, arrest / detention, lawsuits, sanctions, fraud claims, tax investigations, fines |
| family_succession | death, illness, divorce, marriage, inheritance, heirs' disputes, successor named |
| residence_tax | tax residence / domicile moves, citizenship by investment |
| philanthropy | donations, pledges, foundations |
| large_purchase | property / record home, sports team, art, yacht, jet, vineyard |
| business_distress | receivership, insolvency, default, guarantees called, creditor action |
| leadership_change | steps down / appointed / ousted, board changes |
| family_office_fund | sets up a family office, launches a fund |

Negatives (`label` 0, `event_type` "other", `negative_kind`), each built with the vocabulary of one of the ten families
(`story_type`, spread evenly):

| negative_kind | construction |
|---|---|
| passing_mention | a market or trend story in the family's vocabulary; the client appears in one passing clause |
| quote_unrelated | another person's event or a trend; the client is quoted commenting on it |
| guest_list | another person's wedding, funeral, gala, listing ceremony, yacht launch...; the client is one of the guests |
| conference_speaker | a conference on the family's topic; the client is a speaker or panellist |
| history | a current non-event (interview, award, memoir, anniversary); the client's event is dated years ago ("In 2004, ...") |
| company_market_story | results, contracts, ratings, plants of the client's company, plus market sentences in the family's vocabulary |
| negated_or_denied | the same event clause, denied or negated ("denied reports that she had ...", "has no plans to ...") |
| other_person_event | the same event clause with another person as subject; the client is a rival, neighbour, friend or colleague |
| speculative_opinion | columnists and analysts speculating ("should ...", "what would happen if ... were to ...") |

## How articles are composed

Each event clause is a verb phrase written once with five verb forms (`<sell|sold|sells|selling|sold> a {{pct}} stake in
{{org}} ...`), so one clause bank serves positives (reported, "has agreed to", "is set to"), denials, past-dated history,
other people's events and speculation. Clause templates per family:
{clauses}

Slots are filled with amounts in the client's currency or US dollars (style-specific: `$1.2 billion`, `£80m`, `EUR 450 million`,
`Rs 2,400 crore`, `45 billion yen`), percentages, fictional counterparties, banks, funds, places, artworks and teams.
Five styles — `wire` (dateline, UPDATE/EXCLUSIVE tags, surname), `broadsheet` (scene-setting lead, Mr/Ms/Dr, `£80m`),
`trade` ("... has learned", "sources told ...", sector context early), `local` (community angle, local colour) and `translated`
(translated-English phrasing: "According to informations of ...", "This was communicated by ...", `percent`, `EUR`) —
each with its own lead frames, attributions ("people familiar with the matter said", "according to a filing with the
...", "the company confirmed") and sentence order. Detail, background, filler, quote and closing sentences are
sampled per article. The client's name is placed in the lead (full name, then surname / honorific / descriptor), only
after a descriptive lead ("The founder of ...", name later), or only in the headline (the body uses surname or
descriptor); possessives ("Lindqvist's", "Zhou Haoran's Zhou Logistics") occur in headlines and details.

## Counts

{s['positives']} positives, {s['negatives']} negatives, {s['clients_used']} of {s['clients']} clients used.

{table(s['per_family'], 'event_type (positives)')}
{table(s['per_kind'], 'negative_kind')}
| style | positives | negatives |
|---|---|---|
""" + "".join(f"| {st} | {p} | {n} |\n" for st, (p, n) in styles.items()) + f"""
{pos_tab}
{table(s['per_culture'], 'client culture')}
Duplicates: {s['dup_bodies']:.2%} of bodies are exact duplicates of another body; {s['dup_skeletons']:.2%} share their
skeleton (capitalised words and numbers masked) with another body. The client's full name is in the headline for
{s['name_in_headline']:.0%} of the pairs and only in the headline for {s['name_only_in_headline']}.

Surface differences between the classes that a model could latch on to, kept small on purpose: the full name is in the
headline of {s['by_label'][1][0]:.0%} of positives and {s['by_label'][0][0]:.0%} of negatives; the median body is
{s['by_label'][1][1]} characters for positives and {s['by_label'][0][1]} for negatives.

## Relation to the evaluation set

This training set shares no generator with the evaluation set in `tests/data/relevance_eval`, which was written
separately by another author and committed before this set. This generator and its phrase banks were written without
opening that set, so no text was taken from it; any overlap would be coincidental newsroom phrasing (not measured here,
because measuring it means reading the evaluation set). Train on this set; evaluate on that one.

## Limitations

Everything is synthetic and template-composed: sentence-level phrasing repeats across articles even when the filled
values differ, real newsroom text is longer and messier, and a model that scores well here still has to be checked on the
independent evaluation set.
"""


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    clients, rows = generate(a.seed)
    stats = check(clients, rows)
    seconds = time.perf_counter() - t0
    write(a.out, clients, rows, stats, a.seed)
    print(f"{stats['rows']} pairs ({stats['positives']} positive, {stats['negatives']} negative), {stats['clients']} clients "
          f"-> {a.out} in {seconds:.1f} s; duplicate bodies {stats['dup_bodies']:.2%}, skeletons {stats['dup_skeletons']:.2%}")


if __name__ == "__main__":
    main()
