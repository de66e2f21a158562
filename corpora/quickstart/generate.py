#!/usr/bin/env python3
"""Writes the bundled quickstart corpus: the underwriting handbook of Harborview Mutual,
a fictional insurer. Every document and question below was written for ragtune.

Labels are gold spans. Each answer is given as an exact excerpt of its document; its
offsets (Unicode code points, end exclusive) are found here by search, and the script
fails if an excerpt is missing or ambiguous, so labels can never drift from the text.

Some answers are long, multi-sentence excerpts, and some sit under a heading whose words
the question uses but the excerpt does not: those are only retrieved whole when chunk
boundaries fall in the right place.

Run: python3 corpora/quickstart/generate.py   (rewrites docs/ and questions.jsonl)
"""
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent

DOCS = {}
QUESTIONS = []


def doc(name, text):
    DOCS[name] = text.strip() + "\n"


def q(doc_name, question, *excerpts):
    QUESTIONS.append((doc_name, question, excerpts))


doc("00-about.md", """
# About this handbook

This handbook sets out how Harborview Mutual underwrites personal and commercial risks. It is written for underwriters, referral managers and the brokers who work with them.

## Authority levels

Every underwriter holds a written authority letter. A Level 1 underwriter may bind risks with a total insured value up to 750,000 euros. A Level 2 underwriter may bind up to 3 million euros. Anything larger goes to the Referral Committee, which meets every Tuesday and Thursday.

## When the handbook is silent

Where this handbook does not cover a situation, the underwriter must refer the case rather than improvise. Referrals are logged in the Atlas system with the reason in free text.

## Revisions

The handbook is revised every January and July. The current edition is the 14th, issued on 2 January.
""")
q("00-about.md", "Up to what total insured value can a Level 1 underwriter bind a risk?",
  "A Level 1 underwriter may bind risks with a total insured value up to 750,000 euros.")
q("00-about.md", "On which days does the Referral Committee meet?",
  "Anything larger goes to the Referral Committee, which meets every Tuesday and Thursday.")
q("00-about.md", "What must an underwriter do when the handbook does not cover a situation?",
  "Where this handbook does not cover a situation, the underwriter must refer the case rather than improvise.")

doc("01-homeowners-eligibility.md", """
# Homeowners: eligibility

## Dwellings we write

We write owner-occupied houses, terraced homes and flats in buildings of up to twelve storeys. Holiday homes are accepted only when they are occupied at least 120 nights a year.

## Dwellings we decline

We do not write houseboats, buildings with thatched roofs, or any home left unoccupied for more than 60 consecutive days. A home under renovation is treated as unoccupied while the owner lives elsewhere.

## Age of the building

Homes built before 1920 need a surveyor's report no older than two years. The report must confirm that the wiring has been replaced since 1990.
""")
q("01-homeowners-eligibility.md", "How many nights a year must a holiday home be occupied to be accepted?",
  "Holiday homes are accepted only when they are occupied at least 120 nights a year.")
q("01-homeowners-eligibility.md", "Which homes does Harborview decline for homeowners cover?",
  "We do not write houseboats, buildings with thatched roofs, or any home left unoccupied for more than 60 consecutive days.")
q("01-homeowners-eligibility.md", "What does a home built before 1920 need before it can be written?",
  "Homes built before 1920 need a surveyor's report no older than two years. The report must confirm that the wiring has been replaced since 1990.")

doc("02-homeowners-flood.md", """
# Homeowners: flood zones

## Zone ratings

Every address is rated from F1 to F4 using the national flood map. F1 and F2 homes are written at standard rates.

## Zone F3

F3 homes carry a flood excess of 2,500 euros. The underwriter must also confirm that the ground floor has no bedrooms.

## Zone F4

It is not written. The only exception is a home with a certified flood barrier installed after 2015, which may be referred to the Referral Committee.
""")
q("02-homeowners-flood.md", "What is the flood excess for a home in zone F3?",
  "F3 homes carry a flood excess of 2,500 euros.")
q("02-homeowners-flood.md", "Can a home in flood zone F4 be insured?",
  "It is not written. The only exception is a home with a certified flood barrier installed after 2015, which may be referred to the Referral Committee.")

doc("03-homeowners-contents.md", """
# Homeowners: contents

## Sums insured

Contents are insured on a new-for-old basis. The minimum contents sum insured is 20,000 euros.

## Valuables

Any single item worth more than 5,000 euros must be listed by name. Jewellery and watches together may not exceed one third of the contents sum insured unless a safe rated to at least 6,000 euros cash rating is fitted.

## Bicycles

Bicycles are covered away from home up to 1,500 euros each, and only when locked to an immovable object.
""")
q("03-homeowners-contents.md", "Above what value must a single item be listed by name?",
  "Any single item worth more than 5,000 euros must be listed by name.")
q("03-homeowners-contents.md", "What limit applies to jewellery and watches, and how can it be exceeded?",
  "Jewellery and watches together may not exceed one third of the contents sum insured unless a safe rated to at least 6,000 euros cash rating is fitted.")
q("03-homeowners-contents.md", "When is a bicycle covered away from home?",
  "Bicycles are covered away from home up to 1,500 euros each, and only when locked to an immovable object.")

doc("04-motor-drivers.md", """
# Motor: drivers

## Age bands

Drivers under 21 may only be named on a policy, never be the main driver. Drivers aged 21 to 24 pay the young-driver loading of 35 percent.

## Licence history

A main driver must have held a full licence for at least two years. Licences from outside the European Economic Area count only after six months of residence.

## Convictions

Any drink-driving conviction in the last five years means we decline. Two or more speeding offences in three years add a 20 percent loading.
""")
q("04-motor-drivers.md", "What loading do drivers aged 21 to 24 pay?",
  "Drivers aged 21 to 24 pay the young-driver loading of 35 percent.")
q("04-motor-drivers.md", "How long must a main driver have held a full licence?",
  "A main driver must have held a full licence for at least two years.")
q("04-motor-drivers.md", "What happens if a driver has a drink-driving conviction?",
  "Any drink-driving conviction in the last five years means we decline.")

doc("05-motor-vehicles.md", """
# Motor: vehicles

## Value limits

We insure cars worth up to 120,000 euros. Cars above 60,000 euros need an approved tracking device fitted before cover starts.

## Modified cars

Performance modifications are declined. Cosmetic changes such as alloy wheels are accepted if declared.

## Electric vehicles

For electric vehicles the battery is covered on the same basis as the car. Home chargers are covered under the homeowners policy, not the motor policy.
""")
q("05-motor-vehicles.md", "Which cars need a tracking device?",
  "Cars above 60,000 euros need an approved tracking device fitted before cover starts.")
q("05-motor-vehicles.md", "Under which policy is a home charger for an electric car covered?",
  "Home chargers are covered under the homeowners policy, not the motor policy.")

doc("06-motor-fleet.md", """
# Motor: fleets

## What counts as a fleet

A fleet policy needs at least five vehicles registered to the same business. Mixed fleets of cars and vans are accepted.

## Claims experience

Fleet premiums are rated on five years of claims experience. A loss ratio above 85 percent in any one of the last three years must be referred.

## Telematics

Fleets of more than 25 vehicles must fit telematics within 90 days of inception. The discount for telematics is 7 percent once data has been received.
""")
q("06-motor-fleet.md", "How many vehicles does a fleet policy need?",
  "A fleet policy needs at least five vehicles registered to the same business.")
q("06-motor-fleet.md", "When must a fleet with poor claims experience be referred?",
  "A loss ratio above 85 percent in any one of the last three years must be referred.")
q("06-motor-fleet.md", "What are the telematics requirements and discount for large fleets?",
  "Fleets of more than 25 vehicles must fit telematics within 90 days of inception. The discount for telematics is 7 percent once data has been received.")

doc("07-commercial-property.md", """
# Commercial property

## Construction classes

Buildings are graded A (non-combustible), B (mixed) and C (combustible). Class C buildings above 2,000 square metres are declined.

## Sprinklers

Warehouses above 5,000 square metres must have sprinklers that meet the EN 12845 standard. Without them the maximum sum insured is 4 million euros.

## Vacancy

Commercial buildings vacant for more than 30 days must be inspected every week, and the inspections logged.
""")
q("07-commercial-property.md", "Which combustible buildings are declined?",
  "Class C buildings above 2,000 square metres are declined.")
q("07-commercial-property.md", "What is the rule for sprinklers in large warehouses?",
  "Warehouses above 5,000 square metres must have sprinklers that meet the EN 12845 standard. Without them the maximum sum insured is 4 million euros.")
q("07-commercial-property.md", "How often must a vacant commercial building be inspected?",
  "Commercial buildings vacant for more than 30 days must be inspected every week, and the inspections logged.")

doc("08-business-interruption.md", """
# Business interruption

## Indemnity period

The standard indemnity period is 12 months. Periods of 24 or 36 months are available for manufacturers with a single production site.

## Gross profit

Gross profit must be declared from audited accounts. If the declared figure is more than 25 percent below the audited figure, average applies at claim time.

## Supplier extensions

Unnamed suppliers are covered up to 10 percent of the sum insured. Named suppliers can be covered up to 50 percent if they are outside flood zones F3 and F4.
""")
q("08-business-interruption.md", "What is the standard indemnity period for business interruption?",
  "The standard indemnity period is 12 months.")
q("08-business-interruption.md", "When does average apply to a business interruption claim?",
  "If the declared figure is more than 25 percent below the audited figure, average applies at claim time.")
q("08-business-interruption.md", "How much cover is there for named and unnamed suppliers?",
  "Unnamed suppliers are covered up to 10 percent of the sum insured. Named suppliers can be covered up to 50 percent if they are outside flood zones F3 and F4.")

doc("09-liability-public.md", """
# Public liability

## Limits

Public liability limits are 1, 2, 5 or 10 million euros. Limits above 5 million euros are only offered to businesses with more than ten employees.

## Excluded trades

We do not offer public liability to fireworks makers, demolition contractors using explosives, or operators of amusement rides.

## Contractors

Contractors working at heights above 15 metres pay an additional premium of 40 percent.
""")
q("09-liability-public.md", "Which businesses can get public liability limits above 5 million euros?",
  "Limits above 5 million euros are only offered to businesses with more than ten employees.")
q("09-liability-public.md", "Which trades are excluded from public liability?",
  "We do not offer public liability to fireworks makers, demolition contractors using explosives, or operators of amusement rides.")

doc("10-liability-professional.md", """
# Professional indemnity

## Who we cover

We cover accountants, architects, engineers and management consultants. Financial advisers are covered only if they hold a current regulatory licence.

## Retroactive dates

The retroactive date is carried over from the previous insurer when there has been no gap in cover. A gap of more than 30 days resets the retroactive date to the start of our policy.

## Excess

The minimum excess is 2,500 euros for firms with fee income below 1 million euros and 10,000 euros above it.
""")
q("10-liability-professional.md", "What happens to the retroactive date if there was a gap in cover?",
  "A gap of more than 30 days resets the retroactive date to the start of our policy.")
q("10-liability-professional.md", "What is the minimum professional indemnity excess?",
  "The minimum excess is 2,500 euros for firms with fee income below 1 million euros and 10,000 euros above it.")

doc("11-cyber.md", """
# Cyber

## Minimum controls

Every cyber applicant must use multi-factor authentication for email and remote access. Backups must be kept offline or immutable and tested at least every quarter.

## Ransomware

Ransom payments are covered only with the prior written consent of our claims team. The ransomware sub-limit is half of the policy limit.

## Revenue bands

Businesses with revenue above 50 million euros are referred. Healthcare providers are always referred, whatever their size.
""")
q("11-cyber.md", "What are the minimum security controls for cyber cover?",
  "Every cyber applicant must use multi-factor authentication for email and remote access. Backups must be kept offline or immutable and tested at least every quarter.")
q("11-cyber.md", "What is the ransomware sub-limit?",
  "The ransomware sub-limit is half of the policy limit.")
q("11-cyber.md", "Are healthcare providers accepted for cyber cover?",
  "Healthcare providers are always referred, whatever their size.")

doc("12-marine-cargo.md", """
# Marine cargo

## Conveyances

Cargo is covered by sea, air and road. River barges are accepted only on the Rhine and the Danube.

## Packing

Goods must be packed to the standard for export shipping. Claims caused by poor packing are excluded.

## Sanctioned destinations

No shipment to or from a sanctioned country is covered. Underwriters must check each named port against the sanctions list at binding.
""")
q("12-marine-cargo.md", "On which rivers are barges accepted for cargo?",
  "River barges are accepted only on the Rhine and the Danube.")
q("12-marine-cargo.md", "What must underwriters check at binding for cargo?",
  "Underwriters must check each named port against the sanctions list at binding.")

doc("13-marine-hull.md", """
# Marine hull

## Vessel age

Vessels older than 25 years need a condition survey every two years. Wooden hulls older than 40 years are declined.

## Navigation limits

Pleasure craft are covered within 50 nautical miles of the coast unless a passage plan is agreed in writing.

## Laying up

Between November and March, a vessel must be laid up ashore or in a marina with a night watch.
""")
q("13-marine-hull.md", "How far from the coast are pleasure craft covered?",
  "Pleasure craft are covered within 50 nautical miles of the coast unless a passage plan is agreed in writing.")
q("13-marine-hull.md", "Where must a vessel be kept between November and March?",
  "Between November and March, a vessel must be laid up ashore or in a marina with a night watch.")

doc("14-travel.md", """
# Travel

## Age limits

Single-trip travel cover is sold to travellers up to 84 years old. Annual multi-trip cover stops at the 75th birthday.

## Pre-existing conditions

Travellers must declare any condition treated in the last two years. Undeclared conditions void the medical section of the policy.

## Winter sports

Winter sports cover is an add-on. Off-piste skiing is covered only with a qualified guide.
""")
q("14-travel.md", "Up to what age is annual multi-trip travel cover available?",
  "Annual multi-trip cover stops at the 75th birthday.")
q("14-travel.md", "What happens if a traveller does not declare a medical condition?",
  "Undeclared conditions void the medical section of the policy.")
q("14-travel.md", "Is off-piste skiing covered?",
  "Off-piste skiing is covered only with a qualified guide.")

doc("15-life-term.md", """
# Term life

## Ages

Term life is available from age 18 to 64 at inception. The policy must end before the 80th birthday.

## Medical evidence

Sums assured above 500,000 euros need a nurse screening. Above 1.5 million euros a full medical examination and blood profile are required.

## Smokers

Anyone who has used tobacco or nicotine products in the last twelve months is rated as a smoker.
""")
q("15-life-term.md", "When is a full medical examination required for term life?",
  "Above 1.5 million euros a full medical examination and blood profile are required.")
q("15-life-term.md", "Who is rated as a smoker?",
  "Anyone who has used tobacco or nicotine products in the last twelve months is rated as a smoker.")

doc("16-income-protection.md", """
# Income protection

## Benefit

The monthly benefit may not exceed 60 percent of gross earnings. Self-employed applicants use the average of their last three tax returns.

## Waiting periods

Waiting periods of 4, 13, 26 or 52 weeks are offered. Manual workers cannot choose the 4-week waiting period.

## Occupation classes

Occupations are rated from class 1 (office work) to class 4 (heavy manual work). Class 4 occupations are limited to a benefit period of two years.
""")
q("16-income-protection.md", "What is the maximum monthly income protection benefit?",
  "The monthly benefit may not exceed 60 percent of gross earnings.")
q("16-income-protection.md", "Which waiting period is not available to manual workers?",
  "Manual workers cannot choose the 4-week waiting period.")

doc("17-pet.md", """
# Pet

## Eligible animals

We insure cats and dogs from eight weeks old. New policies are not sold for dogs over nine years or cats over eleven years.

## Breeds

Dogs listed under the Dangerous Dogs Act are declined. Brachycephalic breeds pay a 30 percent loading.

## Vet fees

Vet fees are covered up to 7,000 euros per condition per year.
""")
q("17-pet.md", "From what age can cats and dogs be insured, and when are new policies not sold?",
  "We insure cats and dogs from eight weeks old. New policies are not sold for dogs over nine years or cats over eleven years.")
q("17-pet.md", "What loading do brachycephalic breeds pay?",
  "Brachycephalic breeds pay a 30 percent loading.")

doc("18-farm.md", """
# Farm

## Livestock

Livestock is covered for death by fire, lightning, flood and theft. Disease is excluded unless the animals are vaccinated under the national programme.

## Machinery

Tractors and combines are insured at market value. Machinery older than 15 years is covered for fire and theft only.

## Crops

Standing crops are covered against hail from April to September.
""")
q("18-farm.md", "When is livestock disease covered?",
  "Disease is excluded unless the animals are vaccinated under the national programme.")
q("18-farm.md", "What cover does farm machinery older than 15 years get?",
  "Machinery older than 15 years is covered for fire and theft only.")

doc("19-landlord.md", """
# Landlord

## Tenancies

We insure buildings let on written tenancy agreements of at least six months. Short-term holiday lets are written under a separate scheme.

## Tenant types

Properties let to students are accepted with a 15 percent loading. Properties let to tenants receiving housing benefit are rated at standard rates.

## Loss of rent

Loss of rent is covered for up to 12 months after an insured event, limited to 20 percent of the buildings sum insured.
""")
q("19-landlord.md", "What loading applies to properties let to students?",
  "Properties let to students are accepted with a 15 percent loading.")
q("19-landlord.md", "How long and how much loss of rent is covered?",
  "Loss of rent is covered for up to 12 months after an insured event, limited to 20 percent of the buildings sum insured.")

doc("20-claims-referrals.md", """
# Claims referrals to underwriting

## Large losses

Any claim estimated above 100,000 euros is reported to the underwriter within two working days. The underwriter reviews the renewal terms before the next renewal.

## Fraud indicators

Where the claims team suspects fraud, the policy may not be renewed until the investigation closes.

## Repeat claims

Three claims in two years on a personal lines policy trigger a renewal review.
""")
q("20-claims-referrals.md", "How quickly are large claims reported to the underwriter?",
  "Any claim estimated above 100,000 euros is reported to the underwriter within two working days.")
q("20-claims-referrals.md", "What triggers a renewal review on a personal lines policy?",
  "Three claims in two years on a personal lines policy trigger a renewal review.")

doc("21-pricing.md", """
# Pricing principles

## Minimum premiums

The minimum premium is 150 euros for personal lines and 500 euros for commercial lines.

## Discretionary discounts

Underwriters may give a discretionary discount of up to 10 percent. Larger discounts need the written approval of the head of underwriting.

## Instalments

Premiums above 1,000 euros may be paid in ten monthly instalments with a 3 percent charge.
""")
q("21-pricing.md", "What are the minimum premiums?",
  "The minimum premium is 150 euros for personal lines and 500 euros for commercial lines.")
q("21-pricing.md", "How large a discount may an underwriter give without approval?",
  "Underwriters may give a discretionary discount of up to 10 percent.")

doc("22-reinsurance.md", """
# Reinsurance

## Retention

Harborview retains the first 2 million euros of any one risk. Larger risks are ceded to the property surplus treaty.

## Facultative placements

Any risk with a total insured value above 40 million euros needs facultative reinsurance before it is bound.

## Catastrophe cover

The catastrophe programme protects the account above 25 million euros per event.
""")
q("22-reinsurance.md", "How much of any one risk does Harborview retain?",
  "Harborview retains the first 2 million euros of any one risk.")
q("22-reinsurance.md", "When is facultative reinsurance needed?",
  "Any risk with a total insured value above 40 million euros needs facultative reinsurance before it is bound.")

doc("23-sanctions-compliance.md", """
# Sanctions and compliance

## Screening

Every policyholder and beneficial owner is screened against the sanctions lists at quote, at binding and at each renewal.

## Cash payments

Premiums may not be paid in cash above 1,000 euros.

## Record keeping

Underwriting files are kept for seven years after a policy ends.
""")
q("23-sanctions-compliance.md", "When are policyholders screened against the sanctions lists?",
  "Every policyholder and beneficial owner is screened against the sanctions lists at quote, at binding and at each renewal.")
q("23-sanctions-compliance.md", "How long are underwriting files kept?",
  "Underwriting files are kept for seven years after a policy ends.")

doc("24-glossary.md", """
# Glossary

**Average**: a reduction of a claim in proportion to underinsurance.

**Excess**: the part of each claim the policyholder pays.

**Retroactive date**: the earliest date of an act or omission that a claims-made policy will respond to.

**Sum insured**: the most we will pay under a section of the policy.
""")
q("24-glossary.md", "What does average mean?",
  "**Average**: a reduction of a claim in proportion to underinsurance.")
q("24-glossary.md", "What is an excess?",
  "**Excess**: the part of each claim the policyholder pays.")


# Harder questions. Paraphrases that share few words with their answer (vectors should
# help), exact terms and codes (BM25 should help), and answers made of several excerpts
# or long passages (small chunks split them).
q("15-life-term.md", "If someone vapes, are they priced as a non-smoker for term life?",
  "Anyone who has used tobacco or nicotine products in the last twelve months is rated as a smoker.")
q("17-pet.md", "My dog is a pug; will that cost extra?",
  "Brachycephalic breeds pay a 30 percent loading.")
q("13-marine-hull.md", "How far out to sea can I take my sailing yacht and still be insured?",
  "Pleasure craft are covered within 50 nautical miles of the coast unless a passage plan is agreed in writing.")
q("23-sanctions-compliance.md", "Can a customer settle a large premium with banknotes?",
  "Premiums may not be paid in cash above 1,000 euros.")
q("01-homeowners-eligibility.md", "Is a cottage with a straw roof insurable?",
  "We do not write houseboats, buildings with thatched roofs, or any home left unoccupied for more than 60 consecutive days.")
q("18-farm.md", "Does the farm policy pay out if my cows get sick?",
  "Livestock is covered for death by fire, lightning, flood and theft. Disease is excluded unless the animals are vaccinated under the national programme.")
q("11-cyber.md", "If criminals lock our systems and demand money, will you pay them?",
  "Ransom payments are covered only with the prior written consent of our claims team.")
q("04-motor-drivers.md", "Can a nineteen-year-old be the primary driver of the car?",
  "Drivers under 21 may only be named on a policy, never be the main driver.")
q("04-motor-drivers.md", "How long after moving here does a foreign driving licence count?",
  "Licences from outside the European Economic Area count only after six months of residence.")
q("00-about.md", "Where are referrals logged?",
  "Referrals are logged in the Atlas system with the reason in free text.")
q("00-about.md", "Which edition of the handbook is current?",
  "The current edition is the 14th, issued on 2 January.")
q("00-about.md", "How do the Level 1, Level 2 and committee authorities fit together?",
  "A Level 1 underwriter may bind risks with a total insured value up to 750,000 euros. A Level 2 underwriter may bind up to 3 million euros. Anything larger goes to the Referral Committee, which meets every Tuesday and Thursday.")
q("02-homeowners-flood.md", "What are the rules for each flood zone?",
  "F1 and F2 homes are written at standard rates.",
  "F3 homes carry a flood excess of 2,500 euros. The underwriter must also confirm that the ground floor has no bedrooms.",
  "It is not written. The only exception is a home with a certified flood barrier installed after 2015, which may be referred to the Referral Committee.")
q("14-travel.md", "What are the age limits for travel insurance?",
  "Single-trip travel cover is sold to travellers up to 84 years old. Annual multi-trip cover stops at the 75th birthday.")
q("15-life-term.md", "What medical evidence does term life need, by sum assured?",
  "Sums assured above 500,000 euros need a nurse screening. Above 1.5 million euros a full medical examination and blood profile are required.")
q("16-income-protection.md", "What limits apply to heavy manual workers buying income protection?",
  "Manual workers cannot choose the 4-week waiting period.",
  "Class 4 occupations are limited to a benefit period of two years.")


def main():
    docs_dir = HERE / "docs"
    docs_dir.mkdir(exist_ok=True)
    for old in docs_dir.glob("*.md"):
        old.unlink()
    for name, text in DOCS.items():
        (docs_dir / name).write_text(text, encoding="utf-8")
    lines = []
    for i, (name, question, excerpts) in enumerate(QUESTIONS, start=1):
        text = DOCS[name]
        spans = []
        for ex in excerpts:
            start = text.find(ex)
            if start < 0:
                raise SystemExit(f"{name}: excerpt not found: {ex!r}")
            if text.find(ex, start + 1) >= 0:
                raise SystemExit(f"{name}: excerpt is ambiguous: {ex!r}")
            spans.append({"doc_id": name, "start": start, "end": start + len(ex), "text": ex})
        lines.append(json.dumps({"id": f"hm-{i:03d}", "question": question, "spans": spans}, ensure_ascii=False))
    (HERE / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(DOCS)} documents, {len(QUESTIONS)} questions")


if __name__ == "__main__":
    main()
