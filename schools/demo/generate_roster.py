"""Generate the demo roster CSVs for 北京市海淀区实验小学.

This script is how the committed ``students.csv`` and ``devices.csv`` in this
directory were made. It uses only the standard library and a fixed random
seed, so re-running it reproduces the files byte for byte:

    python schools/demo/generate_roster.py
"""

import csv
import random
from pathlib import Path

SEED = 20261123
OUT_DIR = Path(__file__).resolve().parent

SCHOOL = "北京市海淀区实验小学"
GRADES = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级"]
ENTRY_YEAR = {g: 2026 - i for i, g in enumerate(GRADES)}  # 一年级 -> 2026 ... 六年级 -> 2021
CLASSES_PER_GRADE = 5
TOTAL_STUDENTS = 1200
AVATAR_BASE = "https://static.example-school.cn/avatars/"

# Common surnames, roughly in order of frequency; weight decays with rank so
# that 王/李/张/刘/陈 dominate.
SURNAMES = [
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "高",
    "林",
    "罗",
    "郑",
    "梁",
    "谢",
    "宋",
    "唐",
    "许",
    "韩",
    "冯",
    "邓",
    "曹",
    "彭",
    "曾",
    "肖",
    "田",
    "董",
    "袁",
    "潘",
    "于",
    "蒋",
    "蔡",
    "余",
    "杜",
    "叶",
    "程",
    "苏",
    "魏",
    "吕",
    "丁",
    "任",
    "沈",
    "姚",
    "卢",
    "姜",
    "崔",
    "钟",
    "谭",
    "陆",
    "汪",
    "范",
    "金",
    "石",
    "廖",
    "贾",
    "夏",
    "韦",
    "付",
    "方",
    "白",
    "邹",
    "孟",
    "熊",
    "秦",
    "邱",
    "江",
    "尹",
    "薛",
    "闫",
    "段",
    "雷",
    "侯",
    "龙",
    "史",
    "陶",
    "黎",
    "贺",
    "顾",
    "毛",
    "郝",
    "龚",
    "邵",
    "万",
    "钱",
    "严",
    "覃",
    "武",
    "戴",
    "莫",
    "孔",
    "向",
    "汤",
]
SURNAME_WEIGHTS = [100.0 / (rank + 4) ** 1.1 for rank in range(len(SURNAMES))]
COMPOUND_SURNAMES = ["欧阳", "司马", "诸葛", "上官", "东方"]
COMPOUND_RATE = 0.006

# Given-name characters popular for children born in the 2010s/2020s.
BOY_CHARS = list(
    "子梓浩宇轩一诺铭泽俊杰思佳晨阳博文嘉睿瑞航昊然宸奕安乐明天宁辰洋逸凯皓煜霖墨言远铮峻承宏晟锦程毅骏鸿哲翊尧星亦"
)
GIRL_CHARS = list(
    "子梓涵欣怡雨萱一诺思佳晨文嘉琪可馨雅若然悦彤妍奕安乐心雪婷宁语诗钰璐瑶梦菲晗沐依芷清蕊淑静柠桐初月知"
)
FIRST_ONLY = set("子梓一")
SINGLE_NAME_RATE = 0.22

# Devices.
MODEL_ID = "mdl_campusphone_v2"
MODEL_TYPE = "校园电话"
SN_PREFIX = "HDSY-TP2-"
TEACHING = ("实验小学教学楼", "grp_5f2a9c01e7b3")
DORM = ("实验小学宿舍楼", "grp_8d41b6f0a2c9")
FLOORS = ["一", "二", "三", "四", "五"]

STUDENT_HEADER = ["user_id", "name", "grade", "class_name", "student_number", "avatar_url"]
DEVICE_HEADER = ["sn", "model_id", "device_name", "model_type", "group_name", "group_id", "location", "call_mode"]
# WeChat Pay face devices at the canteen and the sports ground: the student calls as itself (seed 003).
FACE_PAY = {"model_id": "mdl_facepay_k1", "model_type": "刷脸电话", "sn_prefix": "WXFP-K1-"}


def class_sizes(rng):
    """30 class sizes between 38 and 42 that add up to TOTAL_STUDENTS."""
    n = len(GRADES) * CLASSES_PER_GRADE
    sizes = [rng.randint(38, 42) for _ in range(n)]
    while sum(sizes) != TOTAL_STUDENTS:
        i = rng.randrange(n)
        if sum(sizes) > TOTAL_STUDENTS and sizes[i] > 38:
            sizes[i] -= 1
        elif sum(sizes) < TOTAL_STUDENTS and sizes[i] < 42:
            sizes[i] += 1
    return sizes


def make_name(rng):
    if rng.random() < COMPOUND_RATE:
        surname = rng.choice(COMPOUND_SURNAMES)
    else:
        surname = rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]
    chars = BOY_CHARS if rng.random() < 0.51 else GIRL_CHARS
    if rng.random() < SINGLE_NAME_RATE:
        given = rng.choice([c for c in chars if c not in FIRST_ONLY])
    else:
        first, second = rng.sample(chars, 2)
        if second in FIRST_ONLY:  # e.g. 子轩 / 梓涵, not 轩子 / 涵梓
            first, second = second, first
        given = first + second
    return surname + given


def make_user_id(rng, seen):
    while True:
        uid = "wxfp_%024x" % rng.getrandbits(96)
        if uid not in seen:
            seen.add(uid)
            return uid


def students(rng):
    sizes = iter(class_sizes(rng))
    seen_ids = set()
    rows = []
    for grade in GRADES:
        year = ENTRY_YEAR[grade]
        for cls in range(1, CLASSES_PER_GRADE + 1):
            for seat in range(1, next(sizes) + 1):
                number = "%d%02d%02d" % (year, cls, seat)
                avatar = AVATAR_BASE + number + ".jpg" if rng.random() < 0.30 else ""
                rows.append(
                    [
                        make_user_id(rng, seen_ids),
                        make_name(rng),
                        grade,
                        "%s%d班" % (grade, cls),
                        number,
                        avatar,
                    ]
                )
    return rows


def devices(rng):
    serials = rng.sample(range(100, 1000), 26)
    specs = []
    # Teaching building: floors 1-5 east/west stairwells, plus a few extras.
    for floor in FLOORS:
        specs.append((TEACHING, f"{floor}楼东侧", f"教学楼{floor}层东侧楼梯口"))
        specs.append((TEACHING, f"{floor}楼西侧", f"教学楼{floor}层西侧楼梯口"))
    specs.append((TEACHING, "一楼大厅", "教学楼一层正门大厅服务台旁"))
    specs.append((TEACHING, "三楼走廊", "教学楼三层中间走廊饮水机旁"))
    specs.append((TEACHING, "图书室门口", "教学楼四层图书室门口"))
    specs.append((TEACHING, "医务室", "教学楼一层医务室外墙"))
    # Dormitory building: floors 1-5, two phones per floor.
    for i, floor in enumerate(FLOORS, start=1):
        specs.append((DORM, f"宿舍{i}层东", f"宿舍楼{floor}层东侧公共区"))
        specs.append((DORM, f"宿舍{i}层西", f"宿舍楼{floor}层西侧洗漱间旁"))
    # Face-pay phones: no device group (FAQ 3.7: no hardware mode on Pay face devices).
    specs.append((None, "食堂门口", "学生食堂一层入口左侧"))
    specs.append((None, "操场看台", "田径场主席台下方"))

    rows = []
    for group, name, location in specs:
        serial = serials[len(rows)]
        if group is None:
            rows.append(
                [
                    "%s%06d" % (FACE_PAY["sn_prefix"], 100000 + serial * 7),
                    FACE_PAY["model_id"],
                    name,
                    FACE_PAY["model_type"],
                    "",
                    "",
                    location,
                    "face_pay",
                ]
            )
            continue
        group_name, group_id = group
        rows.append(
            [
                "%s%06d" % (SN_PREFIX, 100000 + serial * 7),
                MODEL_ID,
                name,
                MODEL_TYPE,
                group_name,
                group_id,
                location,
                "hardware",
            ]
        )
    return rows


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main():
    rng = random.Random(SEED)
    student_rows = students(rng)
    device_rows = devices(rng)
    write_csv(OUT_DIR / "students.csv", STUDENT_HEADER, student_rows)
    write_csv(OUT_DIR / "devices.csv", DEVICE_HEADER, device_rows)
    print(f"{SCHOOL}: wrote {len(student_rows)} students, {len(device_rows)} devices to {OUT_DIR}")


if __name__ == "__main__":
    main()
