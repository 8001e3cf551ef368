"""The demo questionnaire: satisfaction with the last visit to the primary-care clinic (UBS).

Ten rows covering every supported type — yes/no, integer with a constraint, partial date (month +
year), select_one, two Likert scales (quality and frequency), a ``relevant`` follow-up, free text and
notes. :func:`build_demo_form` writes it as an XLSForm; the committed
``transmodal/quiz/data/demo-satisfacao.xlsx`` is its output (rebuild with
``python -m transmodal.quiz.demo``) and :func:`demo_form` reads that file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from transmodal.quiz.form import Form

DEMO_PATH = Path(__file__).resolve().parent / "data" / "demo-satisfacao.xlsx"

SURVEY_HEADER = ["type", "name", "label::Portuguese (pt)", "hint::Portuguese (pt)", "required", "constraint",
                 "constraint_message::Portuguese (pt)", "relevant", "appearance", "accept_confidence",
                 "confirm_confidence", "max_attempts"]

SURVEY = [
    ["note", "abertura", "Olá! Esta pesquisa é sobre a sua última consulta na unidade de saúde. "
                         "Responda falando, ou toque numa opção.", "", "no"],
    ["select_one sim_nao", "consultou", "Você foi atendido na unidade de saúde nos últimos 12 meses?",
     "Responda sim ou não.", "yes"],
    ["integer", "idade", "Qual é a sua idade?", "Diga a sua idade em anos.", "yes", ". >= 0 and . <= 120",
     "A idade deve estar entre 0 e 120 anos.", "", "", 0.9, 0.5, 3],
    ["date", "mes_consulta", "Em que mês e ano foi a sua última consulta?", "Por exemplo: março de 2026.", "yes",
     ". <= '2030-12'", "Diga um mês e ano até 2030.", "", "month-year"],
    ["select_one tempo_espera", "espera", "Quanto tempo você esperou para ser atendido?", "", "yes"],
    ["select_one qualidade", "satisfacao", "Como você avalia o atendimento que recebeu?",
     "Muito bom, bom, regular, ruim ou muito ruim.", "yes", "", "", "", "likert"],
    ["select_one frequencia", "explicacao", "Com que frequência a equipe explicou as coisas de um jeito que você "
                                            "entendeu?", "Sempre, quase sempre, às vezes, raramente ou nunca.", "yes"],
    ["select_one melhorias", "melhorar", "O que mais precisa melhorar?", "", "yes", "", "",
     "${satisfacao} = 'ruim' or ${satisfacao} = 'muito_ruim'"],
    ["select_one sim_nao", "recomendaria", "Você recomendaria esta unidade de saúde a um amigo ou parente?", "", "yes"],
    ["text", "comentario", "Quer deixar algum comentário ou sugestão?", "Fale à vontade.", "no"],
    ["note", "encerramento", "Muito obrigado! Suas respostas ajudam a melhorar o atendimento na sua unidade.", "", "no"],
]

CHOICES_HEADER = ["list_name", "name", "label::Portuguese (pt)"]
CHOICES = [
    ["sim_nao", "sim", "Sim"],
    ["sim_nao", "nao", "Não"],
    ["tempo_espera", "ate_15", "Até 15 minutos"],
    ["tempo_espera", "de_15_a_30", "De 15 a 30 minutos"],
    ["tempo_espera", "de_30_a_60", "De 30 minutos a 1 hora"],
    ["tempo_espera", "mais_de_1h", "Mais de 1 hora"],
    ["qualidade", "muito_bom", "Muito bom"],
    ["qualidade", "bom", "Bom"],
    ["qualidade", "regular", "Regular"],
    ["qualidade", "ruim", "Ruim"],
    ["qualidade", "muito_ruim", "Muito ruim"],
    ["frequencia", "sempre", "Sempre"],
    ["frequencia", "quase_sempre", "Quase sempre"],
    ["frequencia", "as_vezes", "Às vezes"],
    ["frequencia", "raramente", "Raramente"],
    ["frequencia", "nunca", "Nunca"],
    ["melhorias", "espera", "O tempo de espera"],
    ["melhorias", "atencao", "A atenção da equipe"],
    ["melhorias", "remedios", "A falta de remédios"],
    ["melhorias", "estrutura", "A estrutura da unidade"],
    ["melhorias", "outra", "Outra coisa"],
]

SETTINGS = [["form_id", "version", "default_language", "form_title"],
            ["satisfacao_consulta", "1", "pt", "Satisfação com a última consulta na unidade de saúde"]]


def build_demo_form(path: str | Path = DEMO_PATH) -> Path:
    """Write the demo questionnaire as an XLSForm workbook at ``path`` (folders created); returns the path."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    for title, header, rows in (("survey", SURVEY_HEADER, SURVEY), ("choices", CHOICES_HEADER, CHOICES),
                                ("settings", SETTINGS[0], SETTINGS[1:])):
        ws = wb.active if title == "survey" else wb.create_sheet(title)
        ws.title = title
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r in rows:
            ws.append(r)
        for col in ws.columns:  # readable column widths for people who open it in a spreadsheet
            width = max(len(str(c.value or "")) for c in col)
            ws.column_dimensions[col[0].column_letter].width = min(60, max(10, width + 2))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


def demo_form() -> Form:
    """The shipped demo questionnaire, read from its XLSForm."""
    from transmodal.quiz.xlsform import read_xlsform

    return read_xlsform(DEMO_PATH)


if __name__ == "__main__":
    print(build_demo_form(sys.argv[1] if len(sys.argv) > 1 else DEMO_PATH))
