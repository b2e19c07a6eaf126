"""Every word a marketer reads, and how numbers, money and dates are written.

``catalogs/<language>/*.po`` hold the words (gettext message catalogs, one folder per
language; adding a language is adding a folder). :mod:`churn.text.messages` loads them;
:mod:`churn.text.formatting` formats numbers, money, shares and dates with Babel, the same on
every machine. Nothing here reads the config or writes files.
"""
