"""The DIN 5008 form B frame as CSS: window, information block, fold marks, page box."""

# Kept in Python rather than a .css file so it ships inside the wheel without package-data.
DIN5008_CSS = """
/* DIN 5008 form B on A4. The page area starts 25 mm from the left and 20 mm from the top,
   so every first-page element below is placed at (DIN position - page margin). */
@page {
  size: A4;
  margin: 20mm 20mm 25mm 25mm;
  /* content ("Seite x von y" / "Page x of y") is added per language by letter_pdf.py */
  @bottom-right { font: 8pt "DejaVu Sans", sans-serif; }
}

html { font: 10pt/1.35 "DejaVu Sans", sans-serif; color: #000; }
body { margin: 0; }

/* Letterhead: the top 45 mm of form B belong to the sender. */
.din-letterhead {
  position: absolute; top: 0; right: 0; width: 80mm;
  text-align: right; font-size: 8pt; line-height: 1.3;
}
.din-letterhead strong { font-size: 11pt; }

/* Address window: 45 mm from the top, 20 mm from the left, 85 x 45 mm. */
.din-window {
  position: absolute; top: 25mm; left: -5mm; width: 85mm; height: 45mm; overflow: hidden;
}
/* Zusatz- und Vermerkzone (17.7 mm): the return address sits on its lower edge. */
.din-return {
  position: absolute; top: 12.7mm; left: 5mm; right: 5mm; height: 5mm;
  font-size: 6.5pt; white-space: nowrap; text-decoration: underline;
}
/* Anschriftzone (27.3 mm): up to six lines of recipient address. */
.din-recipient {
  position: absolute; top: 17.7mm; left: 5mm; right: 5mm; height: 27.3mm;
  font-style: normal; font-size: 10pt; line-height: 4.2mm;
}

/* Information block: 125 mm from the left, 50 mm from the top. */
.din-info { position: absolute; top: 30mm; left: 100mm; width: 75mm; font-size: 9pt; }
.din-info dt { float: left; width: 25mm; }
.din-info dd { margin-left: 25mm; }

/* Fold marks at 105 mm and 210 mm, punch mark at 148.5 mm, 5 mm from the paper edge. */
.din-mark { position: absolute; left: -20mm; width: 5mm; border-top: 0.3pt solid #000; }
.din-fold-1 { top: 85mm; }
.din-fold-2 { top: 190mm; }
.din-punch { top: 128.5mm; width: 8mm; }

/* Body text: the subject line starts at about 98.5 mm on the first page. */
.din-body { padding-top: 78.5mm; }
.din-subject { font-size: 10pt; font-weight: bold; margin: 0 0 8mm; }

.din-giro {
  break-inside: avoid; margin-top: 8mm; border: 0.5pt solid #000; padding: 3mm;
  display: flex; gap: 5mm;
}
.din-giro img { width: 32mm; height: 32mm; }
.din-giro table { font-size: 8.5pt; border-collapse: collapse; }
.din-giro th { text-align: left; font-weight: normal; padding-right: 3mm; }
"""
