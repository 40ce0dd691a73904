"""nbgrader's configuration for the course; the course root is this folder.

nbgrader reads it when it runs here (``python -m course_utils.grading`` runs
every nbgrader command with this folder as its working directory) and, through
the repository's top-level ``nbgrader_config.py``, in the formgrader of
``make lab``. Paths come from this file's location, so any clone works.
Per-run settings (a shorter timeout in tests, the sandbox's kernel) are passed
on nbgrader's command line by ``course_utils.grading.nbgrader_command``.
"""
import os

c = get_config()  # noqa: F821 (traitlets provides it when it loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "deep-learning-course"
# nbgrader's exchange (release, submit, collect, feedback between Unix users):
# the one place it is configured is the environment variable COURSE_EXCHANGE
# (course_utils/grading/exchange.py); unset, nbgrader's default folder.
c.Exchange.root = os.environ.get("COURSE_EXCHANGE") or "/usr/local/share/nbgrader/exchange"

# Autograding runs each notebook top to bottom in a fresh kernel. A cell still
# running after this many seconds is interrupted and fails, and grading goes on
# with the next cell: a submission that loops forever costs a minute per such
# cell. Inside test cells the student's code has 5 s per check
# (course_utils.homework_checks.student_code), so a loop there costs less.
c.Execute.timeout = 60
# After a cell's reply, nbgrader waits this long for the kernel's last output messages and fails the
# whole submission if they are late (its default, 4 s, failed a submission on a loaded 2-core machine).
c.Execute.iopub_timeout = 30

# Mark schemes for the written answers stand in the locked question cells, between
# "### BEGIN MARK SCHEME" and "### END MARK SCHEME": graders see them in
# Formgrader (the question cell is restored from the gradebook), the release
# and the feedback do not (course_utils.grading.feedback removes them).
c.ClearMarkScheme.enforce_metadata = False

# A test cell deleted by the student is put back (else it would wait for manual
# grading). nbgrader's default note before it is not valid Python: use a comment.
c.OverwriteCells.add_missing_cells = True
c.OverwriteCells.missing_cell_notification = (
    "# This cell ({cell_id}) was missing from the submission; nbgrader put it back.\n"
)

# nbgrader scores a test cell with any stderr output 0. Test cells already
# silence Python warnings around the student's code; this drops warnings that
# reach stderr some other way (torch's C++ warnings, other threads).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"Warning"

# Autograding runs the notebook with course_utils.grading.judged_execute.JudgedExecute,
# nbgrader's Execute except for the autograded test cells: their checks' inputs,
# expected values and comparisons are the grader's, outside the kernel, which only
# runs the probes and hands back raw results (RecordGradingReport writes the run's
# flags into the graded notebook, after the metadata clean-up). nbgrader keeps 1000
# lines of a cell's output, but one print can be a 10 MB line:
# course_utils.grading.limits.LimitOutput also keeps at most 100,000 characters per
# cell. The rest of the list is nbgrader's default.
c.Autograde.autograde_preprocessors = [
    "course_utils.grading.judged_execute.JudgedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "course_utils.grading.judged_execute.RecordGradingReport",
    "course_utils.grading.limits.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Late penalties: course.toml's [late] policy (course_utils.grading.late_penalty), stored in
# the gradebook by nbgrader's AssignLatePenalties (nbgrader's default plugin stores none).
c.AssignLatePenalties.plugin_class = "course_utils.grading.late_penalty.CourseLatePenalty"

# `nbgrader export` writes what `make export` writes (grades.csv and the LMS's grades_wide.csv).
c.ExportApp.plugin_class = "course_utils.grading.export.CourseExport"

# Feedback must not show the hidden tests, neither their source nor the lines
# quoted in tracebacks (nbgrader 0.9 shows both by default), nor mark schemes.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "course_utils.grading.feedback.HideHiddenTests",
]
