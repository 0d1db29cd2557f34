"""Psychiatric and sleep medication names, generic and brand, in lower case: the reply checks
read dosing advice by them, and the PII scrubber knows they are no person's name."""

from __future__ import annotations

DRUG_NAMES = (
    "sertraline zoloft fluoxetine prozac citalopram celexa escitalopram lexapro paroxetine paxil venlafaxine "
    "effexor duloxetine cymbalta bupropion wellbutrin mirtazapine trazodone xanax alprazolam klonopin clonazepam "
    "ativan lorazepam valium diazepam lithium lamotrigine lamictal quetiapine seroquel aripiprazole abilify "
    "adderall ritalin methylphenidate vyvanse melatonin ambien zolpidem buspirone buspar gabapentin propranolol "
    "hydroxyzine prazosin naltrexone suboxone methadone"
).split()
