"""Roster import and export (django-import-export): the framework every roster resource uses.

Every import belongs to one school, the staff user's (superusers choose it in the import form):
new rows are created in it, and a row whose key (``user_id``; ``sn`` + ``model_id``;
``group_id``) belongs to another school is a row error, never an update. Each row is checked
like ``Model.full_clean`` would (field validators, blank, lengths, and the uniqueness, group
capacity and group type rules) but in memory, from a few queries made in ``before_import``: no
query per row. Rows are then written with ``bulk_create``/``bulk_update``; an import with any
error writes nothing (one transaction).

Accepted column headers (case, spaces, ``_`` and ``-`` ignored; unknown columns are ignored):

=========== ===================================================================
students    ``user_id`` (用户ID, 刷脸ID, 人脸ID), ``name`` (姓名, 学生姓名),
            ``grade`` (年级), ``class_name`` (班级, 班级名称, class),
            ``student_number`` (学号), ``avatar_url`` (头像, 头像URL, 头像链接, avatar)
devices     ``sn`` (序列号, 设备序列号, 设备SN), ``model_id`` (型号ID, 设备型号ID),
            ``device_name`` (设备名称, 名称), ``model_type`` (设备类型, 类型),
            ``group`` (group_id, 设备组, 设备组ID, 分组), ``location`` (位置, 安装位置)
groups      ``group_id`` (设备组ID, 组ID), ``name`` (group_name, 设备组名称, 名称, 组名),
            ``model_type`` (设备类型, 类型)
=========== ===================================================================

A column missing from the file leaves that field of existing rows unchanged; an empty cell
empties it. Students export with a ``contacts`` column (contacts per student, ignored on import).
Exports are safe to open in a spreadsheet: a cell starting with ``= + - @``, tab or CR gets a
leading ``'`` (OWASP "CSV injection"), which the import takes off again; the library's
``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` stays on behind it.

Modules: ``formats`` (file formats, cells), ``resources`` (the base resource and the registry of
resources by kind), ``jobs`` (background imports: create and queue), ``runner`` (run a job),
``copy`` (on PostgreSQL, a job's file streamed with ``COPY`` into a staging table, checked and
merged in SQL with its resource's rules, under the school's lock; ``IMPORT_JOB_COPY``).
The resources themselves live with their models: devices and device groups in
``schools.resources``, students in ``contacts.resources`` (and their COPY importer in
``contacts.roster_copy``).
"""
